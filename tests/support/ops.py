"""Ops helpers: a hub's /metrics, /readyz and /healthz read over HTTP as a scraper or a load
balancer would, a message log made read-only, and message log records, archives and seals
made on fixed days."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hub.audit.archive import ArchivedLog
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog
from hub.signing.keys import SigningIdentity
from tests.support import SHIPPED_CONFIG


def get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    status, body, headers = get(base_url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), (status, body[:300])
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def readiness(base_url: str) -> tuple[int, dict]:
    status, body, _ = get(base_url + "/readyz")
    return status, json.loads(body)


READ_ONLY_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER message_log_read_only BEFORE INSERT ON message_log "
        "BEGIN SELECT RAISE(ABORT, 'the message log is read-only'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION message_log_read_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the message log is read-only'; END $$",
        "CREATE TRIGGER message_log_read_only BEFORE INSERT ON message_log FOR EACH ROW "
        "EXECUTE FUNCTION message_log_read_only()",
    ],
}
DROP_TRIGGER = {
    "sqlite": ["DROP TRIGGER IF EXISTS message_log_read_only"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS message_log_read_only ON message_log",
        "DROP FUNCTION IF EXISTS message_log_read_only()",
    ],
}


class ReadOnlyMessageLog:
    """Makes every INSERT into message_log fail (a trigger, on SQLite and PostgreSQL alike)
    until `restore()`; the fixture restores it in any case, the PostgreSQL database is
    shared by the process's later tests."""

    def __init__(self, db) -> None:
        self.db = db
        self.dialect = db.engine.dialect.name

    def _run(self, statements: list[str]) -> None:
        from sqlalchemy import text

        with self.db.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))

    def apply(self) -> None:
        self._run(READ_ONLY_TRIGGER[self.dialect])

    def restore(self) -> None:
        self._run(DROP_TRIGGER[self.dialect])


DAY1 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
DAY3 = DAY1 + timedelta(days=2)
NOW = DAY3 + timedelta(hours=1)
KEYS = SHIPPED_CONFIG / "keys"


def hub_identity() -> SigningIdentity:
    return SigningIdentity.load(KEYS / "hub.key", KEYS / "hub.crt")


def archived(db, directory: Path, identity: SigningIdentity | None = None, **kw) -> ArchivedLog:
    return ArchivedLog(db, directory, identity or hub_identity(), clock=lambda: NOW, **kw)


def exchange(log: MessageLog, i: int, clock=None) -> None:
    """Request and answer of exchange `i`, appended as the endpoint does (one record each)."""
    at = clock() if clock else DAY1
    log.append(Entry(at, REQUEST, "office", "pojazd-1465", f"log-{i}", f"<in{i}/>".encode()))
    log.append(Entry(at, RESPONSE, "office", "pojazd-1465", f"log-{i}", f"<out{i}/>".encode()))
