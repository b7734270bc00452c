"""`hub fake-bank` as a WSGI application, and a small threaded server to run it.

    POST /soap/bank         SubmitTransfer (bank.wsdl), signed both ways
    POST /soap/fk           PostJournal (fk.wsdl), when an FK identity is given
    GET  /soap/bank?wsdl    the published contract with the real address (also /soap/fk)
    GET|POST /control       ?mode=ok|down|slow|reject|twice|fault|error [&seconds=N] [&reason=TEXT]
                            ?credit=ACCOUNT:AMOUNT:TEXT[:YYYY-MM-DD]   a credit to the escrow
                            ?return=END_TO_END_ID[&text=TEXT][&date=D]   an accepted transfer comes back
                            ?fk=ok|down
                            answers the state as JSON
    GET  /transfers         the transfers as JSON (each EndToEndId once, with its deliveries)
    GET  /journals          the FK journals as JSON
    GET  /statement[?date=YYYY-MM-DD]   camt.053.001.08 of the escrow account

The SOAP endpoints are the hub's own `SoapEndpoint`: size limit, hardened
parser, strict WS-Security (only the hub's certificate is trusted), XSD
validation, spyne, a signed answer. Their message log and replay cache are kept
in an SQLite database of their own (`data_dir`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509

from hub import ns
from hub.audit.messagelog import MessageLog, MessageLogHead, MessageRecord
from hub.config import HubConfig
from hub.db.base import Base
from hub.db.database import Database
from hub.db.replay import DatabaseReplayCache, SeenSignature
from hub.errors import ConfigError
from hub.fakebank.bank import FakeBank
from hub.fakebank.fk import FakeFk
from hub.fakebank.services import FakeBankService, FakeFkService
from hub.money import AmountError, parse_grosze
from hub.services.endpoint import Security, SoapEndpoint
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.trust import TrustedClient, TrustStore

REQUEST_BYTES_MAX = 1_000_000
XML_DEPTH_MAX = 100
HUB_KIND = "HUB"
# How often the server thread looks for stop(): within 50 ms, not socketserver's 0.5 s.
SHUTDOWN_POLL_S = 0.05


def _real_now() -> datetime:
    return datetime.now(UTC)


def partner_database(path: Path) -> Database:
    """The fake partners' own SQLite database: a message log and a replay cache of
    their own, the same tables the hub uses, so they run the hub's SoapEndpoint as it is."""
    db = Database(f"sqlite:///{path}")
    tables = [MessageRecord.__table__, MessageLogHead.__table__, SeenSignature.__table__]
    Base.metadata.create_all(db.engine, tables=tables)  # type: ignore[arg-type]
    return db


def _security(
    identity: SigningIdentity, hub_cert: x509.Certificate, db: Database, clock: Callable[[], datetime]
) -> Security:
    return Security(
        trust=TrustStore([TrustedClient(id="hub", kind=HUB_KIND, cert=hub_cert)]),
        policy=SignaturePolicy(),
        replay=DatabaseReplayCache(db, clock),
        identity=identity,
        request_bytes_max=REQUEST_BYTES_MAX,
        xml_depth_max=XML_DEPTH_MAX,
    )


class FakePartners:
    """The WSGI application: the fake bank, and the fake FK system if it has a key."""

    def __init__(
        self,
        bank: FakeBank,
        bank_identity: SigningIdentity,
        hub_cert: x509.Certificate,
        data_dir: Path,
        fk_identity: SigningIdentity | None = None,
        clock: Callable[[], datetime] = _real_now,
    ) -> None:
        self.bank = bank
        self.fk = FakeFk()
        self.db = partner_database(data_dir / "fake-partners.sqlite3")
        self.log = MessageLog(self.db)
        kinds = frozenset({HUB_KIND})
        context = {"bank": self.bank, "fk": self.fk}
        bank_security = _security(bank_identity, hub_cert, self.db, clock)
        self.endpoints = {
            "/soap/bank": SoapEndpoint(
                "bank", ns.BANK, [FakeBankService], kinds, bank_security, self.log, clock, context
            )
        }
        if fk_identity is not None:
            fk_security = _security(fk_identity, hub_cert, self.db, clock)
            self.endpoints["/soap/fk"] = SoapEndpoint(
                "fk", ns.FK, [FakeFkService], kinds, fk_security, self.log, clock, context
            )

    def close(self) -> None:
        self.db.dispose()

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path in self.endpoints:
            return self._soap(path, environ, start_response)
        if path == "/control":
            try:
                self._control(query)
            except (ValueError, AmountError) as error:
                return _reply(start_response, "400 Bad Request", "text/plain", f"{error}\n".encode())
            return _json(start_response, self.state())
        if path == "/transfers":
            return _json(start_response, [t.as_json() for t in self.bank.transfers.values()])
        if path == "/journals":
            return _json(start_response, [j.as_json() for j in self.fk.journals.values()])
        if path == "/statement":
            day = date.fromisoformat(query["date"]) if "date" in query else None
            return _reply(start_response, "200 OK", "text/xml; charset=utf-8", self.bank.statement(day))
        return _reply(
            start_response,
            "404 Not Found",
            "text/plain",
            b"see /soap/bank?wsdl, /control, /transfers, /journals, /statement\n",
        )

    def _soap(self, path: str, environ: dict, start_response: Callable):
        endpoint = self.endpoints[path]
        if environ["REQUEST_METHOD"] != "POST":
            return endpoint(environ, start_response)
        mode = self.bank.mode if path == "/soap/bank" else None
        if (mode is not None and mode.name == "down") or (path == "/soap/fk" and self.fk.down):
            return _reply(start_response, "503 Service Unavailable", "text/plain", b"down for maintenance\n")
        captured: list = []
        body = b"".join(endpoint(environ, lambda status, headers, exc_info=None: captured.append((status, headers))))
        if mode is not None and mode.name == "slow":
            time.sleep(mode.seconds)
        if mode is not None and mode.name == "twice":
            return _reply(start_response, "502 Bad Gateway", "text/plain", b"the answer was lost on the way\n")
        status, headers = captured[0]
        start_response(status, headers)
        return [body]

    def _control(self, query: dict[str, str]) -> None:
        if "mode" in query:
            self.bank.set_mode(query["mode"], float(query.get("seconds", 0)), query.get("reason"))
        if "fk" in query:
            if query["fk"] not in ("ok", "down"):
                raise ValueError("fk is ok or down")
            self.fk.down = query["fk"] == "down"
        if "credit" in query:
            add_credit(self.bank, query["credit"])
        if "return" in query:
            booked_on = date.fromisoformat(query["date"]) if "date" in query else None
            self.bank.return_transfer(
                query["return"], query.get("text", "Zwrot: rachunek odbiorcy zamknięty"), booked_on
            )

    def state(self) -> dict:
        return {
            "mode": asdict(self.bank.mode),
            "fk": "down" if self.fk.down else "ok",
            "transfers": len(self.bank.transfers),
            "credits": len(self.bank.credits),
            "journals": len(self.fk.journals),
        }


def add_credit(bank: FakeBank, spec: str):
    """`ACCOUNT:AMOUNT:TEXT[:YYYY-MM-DD]`, e.g. `PL61109010140000071219812874:5000.00:Zasilenie konta`."""
    parts = spec.split(":")
    if len(parts) not in (3, 4) or not parts[0] or not parts[2]:
        raise ValueError(f"a credit is ACCOUNT:AMOUNT:TEXT[:YYYY-MM-DD], got {spec!r}")
    booked_on = date.fromisoformat(parts[3]) if len(parts) == 4 else None
    return bank.add_credit(parts[0], parse_grosze(parts[1]), parts[2], booked_on)


def partners_from_config(
    config: HubConfig, data_dir: Path, fk_client: str | None = None, clock: Callable[[], datetime] = _real_now
) -> FakePartners:
    """The fake bank of a hub's config: it keeps the escrow account, signs with the
    key beside the BANK client's certificate (keys/bank-escrow.key) and trusts the
    hub's certificate. `fk_client` names a clients.toml entry whose key (beside its
    certificate) the fake FK system signs with. Its message log lives in `data_dir`."""
    bank_client = next((c for c in config.clients if c.kind == "BANK" and c.cert is not None), None)
    if bank_client is None:
        raise ConfigError("clients.toml has no BANK client with a pinned cert: the fake bank signs as that client")
    hub_cert = x509.load_pem_x509_certificate(config.signing.cert.read_bytes())
    fk_identity = None
    if fk_client is not None:
        client = config.client(fk_client)
        if client.cert is None:
            raise ConfigError(
                f"clients.toml: client {fk_client} has no pinned cert for the fake FK system to sign with"
            )
        fk_identity = _identity_beside(client.cert)
    bank = FakeBank(config.bank.escrow_account, config.bank.currency, clock)
    data_dir.mkdir(parents=True, exist_ok=True)
    bank_cert = bank_client.cert
    assert bank_cert is not None  # chosen with a cert above
    return FakePartners(bank, _identity_beside(bank_cert), hub_cert, data_dir, fk_identity, clock)


def _identity_beside(cert: Path) -> SigningIdentity:
    return SigningIdentity.load(cert.with_suffix(".key"), cert)


# -- serving --------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the hub gave up waiting (slow mode)
            pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeServer:
    """Serves an application on 127.0.0.1 in a thread; `stop()` closes the listener,
    so callers get "connection refused", and `start()` opens it again on the same port."""

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeServer:
        self._server = make_server(
            self.host, self.port, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self, listening: Callable[[str], None] | None = None) -> None:
        """In the foreground (the CLI): until Ctrl-C. `listening` is told the URL once the
        socket is bound, so that with port 0 the port the OS picked is the one announced."""
        self._server = make_server(
            self.host, self.port, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._server.server_port
        if listening is not None:
            listening(self.url)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()


def _reply(start_response: Callable, status: str, content_type: str, body: bytes):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response: Callable, value) -> list[bytes]:
    return _reply(
        start_response, "200 OK", "application/json", json.dumps(value, indent=2, ensure_ascii=False).encode()
    )
