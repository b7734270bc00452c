"""`/healthz` and `/readyz`: is the process up, and may a load balancer send it requests.

`/healthz` answers 200 "ok" whenever the process serves HTTP at all (a liveness probe:
restart the process when it fails). `/readyz` runs every check and answers 200 when all
pass, 503 naming each failing check otherwise (a readiness probe: send no requests while
it fails):

    database     the database answers `SELECT 1` within `timeout_s`, on a connection of
                 its own (never the pool a stuck request holds)
    signing      the hub's key is loaded and its certificate is valid today (answers signed
                 with an expired certificate are refused by every caller)
    message_log  a record can be written to the message log: one is inserted and rolled back,
                 so a revoked INSERT, a trigger, a read-only file or a full disk shows here
                 before a request is refused for it

The probes never change anything and never wait longer than `timeout_s` for a database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hub.audit.messagelog import GENESIS, MessageRecord
from hub.clock import Clock, utcnow
from hub.signing.keys import SigningIdentity

PROBE_TIMEOUT_S = 2.0
PROBE_SEQ = -1  # never a real record's sequence number; the probe row is rolled back


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class Readiness:
    """The checks of `/readyz` for one hub process."""

    def __init__(
        self,
        database_url: str,
        identity: SigningIdentity | None,
        clock: Clock = utcnow,
        timeout_s: float = PROBE_TIMEOUT_S,
    ) -> None:
        self.identity = identity
        self.clock = clock
        self.timeout_s = timeout_s
        self._engine = _probe_engine(make_url(database_url), timeout_s)

    def checks(self) -> list[Check]:
        database = self._database()
        log = (
            self._message_log()
            if database.ok
            else Check("message_log", False, "not checked: the database is unreachable")
        )
        return [database, self._signing(), log]

    def _database(self) -> Check:
        try:
            self._rolled_back(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            return Check("database", False, f"unreachable: {_first_line(error)}")
        return Check("database", True, "reachable")

    def _signing(self) -> Check:
        if self.identity is None:
            return Check("signing", False, "no signing key loaded")
        cert, now = self.identity.cert, self.clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return Check(
                "signing",
                False,
                f"the hub's certificate is valid {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d}, not now",
            )
        return Check("signing", True, f"key loaded, certificate valid until {cert.not_valid_after_utc:%Y-%m-%d}")

    def _message_log(self) -> Check:
        probe = insert(MessageRecord).values(
            seq=PROBE_SEQ,
            at=self.clock(),
            direction="IN",
            service="readyz",
            client_id="-",
            log_id="readyz",
            payload=b"",
            prev_hash=GENESIS,
            hash=GENESIS,
        )
        try:
            self._rolled_back(probe)
        except Exception as error:  # noqa: BLE001
            return Check("message_log", False, f"not writable: {_first_line(error)}")
        return Check("message_log", True, "writable")

    def _rolled_back(self, statement) -> None:
        """Run `statement` on a connection of its own, in a transaction that is rolled back."""
        with self._engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(statement)
            finally:
                transaction.rollback()

    def dispose(self) -> None:
        self._engine.dispose()


def _probe_engine(url, timeout_s: float):
    """A connection per probe (NullPool: a dead server is seen at once, never a pooled
    connection a stuck request holds), with every wait bounded by `timeout_s`."""
    if url.get_backend_name() != "sqlite":
        ms = int(timeout_s * 1000)
        return create_engine(
            url.set(drivername="postgresql+psycopg") if url.drivername in ("postgresql", "postgres") else url,
            poolclass=NullPool,
            isolation_level="READ COMMITTED",
            connect_args={
                "connect_timeout": max(1, round(timeout_s)),
                "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
            },
        )
    path = url.database
    if not path or path == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be probed from a second connection")
    # mode=rw: a missing file is an error, not a new empty database.
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
        ),
        poolclass=NullPool,
    )
    # The driver begins no transaction of its own here: BEGIN IMMEDIATE takes the write lock,
    # so a probe that cannot write within the timeout says so.
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def _first_line(error: Exception) -> str:
    text_ = str(error).strip().splitlines()
    return (text_[0] if text_ else type(error).__name__)[:300]


def health_app(readiness: Readiness | None) -> Callable:
    """WSGI handler of both paths: `/healthz` and `/readyz`."""

    def app(environ: dict, start_response: Callable):
        if environ.get("PATH_INFO", "").rstrip("/") == "/healthz":
            return _plain(start_response, "200 OK", b"ok\n")
        checks = readiness.checks() if readiness else [Check("hub", False, "not configured")]
        failing = [c for c in checks if not c.ok]
        body = {"ready": not failing, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
        if failing:
            body["failing"] = [c.name for c in failing]
        data = (json.dumps(body, indent=2) + "\n").encode()
        status = "200 OK" if not failing else "503 Service Unavailable"
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")],
        )
        return [data]

    return app


def _plain(start_response: Callable, status: str, body: bytes):
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]
