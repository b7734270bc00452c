"""Database work per signed SOAP exchange, in-process: pool checkouts, transactions,
statements and (PostgreSQL) network round trips for VerifyCoupon, RedeemCoupon and
VerifyPayment.

    .venv/bin/python bench/roundtrips.py                  # sqlite and postgresql
    .venv/bin/python bench/roundtrips.py --backend postgresql --requests 50

Checkouts, transactions, commits and rollbacks are counted with SQLAlchemy's pool and
connection events. Statements are counted where the database sees them, so that those run
on the driver's own cursor (hub.db.database.DriverStatement), which SQLAlchemy's events
never see, count too: on SQLite with sqlite3's trace callback (each statement run, BEGIN
and COMMIT included; each row of an `executemany` is one run), on PostgreSQL with libpq's
protocol trace (each frontend `Execute` or simple `Query` message, BEGIN and COMMIT
included). The same trace gives PostgreSQL's round trips: each time the client, having
sent, reads the server's answers (statements sent together count once: those of a pipeline,
and a read's that join its request's record, sent ahead). VerifyPayment asks about a case
with two payments and three items, taken before. Prints JSON: the mean per exchange, reads'
answer records included: their group commit's transactions (hub.services.group_commit) are
counted and shared out over the exchanges they served.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402

from bench.child import add_backend_option, chosen_backends  # noqa: E402
from bench.soap import Requests, prepared_hub  # noqa: E402
from bench.soap_cpu import environ  # noqa: E402
from hub import ns  # noqa: E402
from hub.access import operator  # noqa: E402
from hub.cashdesk.service import ItemRequest  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402


class Counting:
    """Counts what one engine does; `trace_dir` gets one libpq trace file per PostgreSQL connection."""

    def __init__(self, engine, trace_dir: Path) -> None:
        self.counts: Counter[str] = Counter()
        self.traces: list[Path] = []
        self.trace_dir = trace_dir
        event.listen(engine, "connect", self._connect)
        event.listen(engine.pool, "checkout", lambda *a: self.counts.update(["checkouts"]))
        event.listen(engine, "begin", lambda *a: self.counts.update(["transactions"]))
        event.listen(engine, "commit", lambda *a: self.counts.update(["commits"]))
        event.listen(engine, "rollback", lambda *a: self.counts.update(["rollbacks"]))

    def _connect(self, dbapi_connection, record) -> None:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None:  # SQLite
            dbapi_connection.set_trace_callback(lambda sql: self.counts.update(["statements"]))
            return
        path = self.trace_dir / f"trace-{len(self.traces)}"
        self.traces.append(path)
        handle = open(path, "w")  # noqa: SIM115 - open as long as the connection
        record.info["trace"] = handle
        pgconn.trace(handle.fileno())

    def traced(self) -> Counter[str]:
        """PostgreSQL's statements and round trips, from the protocol traces (one a connection):
        a round trip is each time the client, having sent, reads the server's answers."""
        sent: Counter[str] = Counter()
        trips = 0
        for path in self.traces:
            last = ""
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) <= 3 or parts[1] not in ("F", "B"):
                    continue
                if parts[1] == "F":
                    sent[parts[3].split(" ", 1)[0]] += 1
                elif last == "F":
                    trips += 1
                last = parts[1]
        return Counter(statements=sent["Execute"] + sent["Query"], round_trips=trips)

    def reset(self) -> None:
        self.counts.clear()
        for path in self.traces:
            path.write_text("")


CASE_NUMBER = "KM.5410.1.1.2026"  # the case VerifyPayment asks about: two payments at desk 01 of office 1465


def run_backend(backend: str, n: int) -> dict:
    from hub.app import create_app
    from hub.config import load_config

    with prepared_hub(backend, n + 5, "hub-roundtrips-") as (config_dir, coupons):
        identity = SigningIdentity.load(config_dir / "keys/pojazd-1465.key", config_dir / "keys/pojazd-1465.crt")
        requests = Requests(identity, ttl_s=3600)
        app = create_app(load_config(config_dir))
        path = "/soap/office"
        engine = app.endpoints[path].message_log.db.engine
        traces = config_dir.parent / "traces"
        traces.mkdir()
        counting = Counting(engine, traces)
        engine.dispose()  # connections made from here on are traced
        case = {"System": "POJAZD", "OfficeCode": "1465", "CaseNumber": CASE_NUMBER}
        for fees in (("DR", "EWID"), ("DR",)):  # the case's two payments, three items
            app.hub.cashdesk.register(
                actor=operator("bench"), request_id=str(uuid.uuid4()), office_code="1465", desk_id="01",
                cashier="anna.nowak", system="POJAZD", case_number=CASE_NUMBER, method="CASH",
                items=[ItemRequest(fee) for fee in fees],
            )  # fmt: skip
        result = {}
        signed = {  # each operation's requests, signed when its turn comes
            "VerifyCoupon": lambda: requests.verify(coupons, n),
            "RedeemCoupon": lambda: requests.redeem(coupons[:n]),
            "VerifyPayment": lambda: [requests.signed("VerifyPayment", case) for _ in range(n)],
        }
        for op, sign in signed.items():
            bodies = sign()
            warm = bodies[:2]
            for body in warm:  # connections open, caches warm
                b"".join(app(environ(path, f"{ns.OFFICE}#{op}", body), lambda *a: None))
            app.hub.answer_records.flush()
            counting.reset()
            statuses: list[str] = []

            def start_response(status, headers, exc_info=None, statuses=statuses):
                statuses.append(status)

            for body in bodies[2:]:
                answer = b"".join(app(environ(path, f"{ns.OFFICE}#{op}", body), start_response))
                if not statuses[-1].startswith("200") or b"Fault>" in answer:
                    raise RuntimeError(f"{op} answered {statuses[-1]}: {answer[-900:]!r}")
            app.hub.answer_records.flush()  # reads' answer records: their batches count, shared out
            exchanges = len(bodies) - 2
            counts = counting.counts + (counting.traced() if backend == "postgresql" else Counter())
            result[op] = {k: round(v / exchanges, 2) for k, v in sorted(counts.items())}
        gc.collect()
        app.hub.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    backends = chosen_backends(args.backend)
    print(json.dumps({"repo": str(REPO), **{b: run_backend(b, args.requests) for b in backends}}, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("HUB_LOG_LEVEL", "WARNING")
    main()
