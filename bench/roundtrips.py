"""Database work per signed SOAP exchange, in-process: pool checkouts, transactions,
statements and (PostgreSQL) network round trips for VerifyCoupon and RedeemCoupon.

    .venv/bin/python bench/roundtrips.py                  # sqlite and postgresql
    .venv/bin/python bench/roundtrips.py --backend postgresql --requests 50

Counted with SQLAlchemy's pool and connection events (checkouts, BEGINs, statements,
commits) and, on PostgreSQL, with libpq's protocol trace: every frontend `Sync` or
simple `Query` message is one round trip to the server (BEGIN, COMMIT, ROLLBACK, a
pre-ping and each statement included). Prints JSON: the mean per exchange.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.soap import database, envelope, prepare  # noqa: E402
from bench.soap_cpu import environ  # noqa: E402
from hub import ns  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402
from hub.signing.sign import sign_envelope  # noqa: E402


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
        event.listen(engine, "before_cursor_execute", lambda *a: self.counts.update(["statements"]))

    def _connect(self, dbapi_connection, record) -> None:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None:
            return
        path = self.trace_dir / f"trace-{len(self.traces)}"
        self.traces.append(path)
        handle = open(path, "w")  # noqa: SIM115 - open as long as the connection
        record.info["trace"] = handle
        pgconn.trace(handle.fileno())

    def round_trips(self) -> int:
        total = 0
        for path in self.traces:
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) > 2 and parts[1] == "F" and parts[3:4] and parts[3] in ("Sync", "Query"):
                    total += 1
        return total

    def reset(self) -> None:
        self.counts.clear()
        for path in self.traces:
            path.write_text("")


def run_backend(backend: str, n: int) -> dict:
    from hub.app import create_app
    from hub.cli.demo import SHIPPED_CONFIG, copy_config
    from hub.config import load_config

    workdir = Path(tempfile.mkdtemp(prefix="hub-roundtrips-"))
    url, drop = database(backend, workdir)
    if backend == "sqlite":
        url = f"sqlite:///{workdir}/hub.sqlite3"
    try:
        config_dir = copy_config(SHIPPED_CONFIG, workdir / "config", url)
        coupons = prepare(config_dir, n + 5)
        identity = SigningIdentity.load(config_dir / "keys/pojazd-1465.key", config_dir / "keys/pojazd-1465.crt")

        def signed(op: str, fields: dict) -> bytes:
            return etree.tostring(sign_envelope(envelope(op, fields), identity, ttl_s=3600))

        app = create_app(load_config(config_dir))
        path = "/soap/office"
        engine = app.endpoints[path].message_log.db.engine
        (workdir / "traces").mkdir()
        counting = Counting(engine, workdir / "traces")
        engine.dispose()  # connections made from here on are traced
        result = {}
        for op in ("VerifyCoupon", "RedeemCoupon"):
            bodies = []
            for i, c in enumerate(coupons[:n]):
                fields = {"CouponId": c, "OfficeCode": "1465"}
                if op == "RedeemCoupon":
                    fields = {"RequestId": str(uuid.uuid4()), **fields, "CaseNumber": f"WK.{i}", "CaseType": "REJ_NEW"}
                bodies.append(signed(op, fields))
            warm = bodies[:2]
            for body in warm:  # connections open, caches warm
                b"".join(app(environ(path, f"{ns.OFFICE}#{op}", body), lambda *a: None))
            counting.reset()
            statuses: list[str] = []

            def start_response(status, headers, exc_info=None, statuses=statuses):
                statuses.append(status)

            for body in bodies[2:]:
                answer = b"".join(app(environ(path, f"{ns.OFFICE}#{op}", body), start_response))
                if not statuses[-1].startswith("200") or b"Fault>" in answer:
                    raise RuntimeError(f"{op} answered {statuses[-1]}: {answer[-900:]!r}")
            exchanges = len(bodies) - 2
            per = {k: round(v / exchanges, 2) for k, v in sorted(counting.counts.items())}
            if backend == "postgresql":
                per["round_trips"] = round(counting.round_trips() / exchanges, 2)
            result[op] = per
        gc.collect()
        app.hub.close()
        return result
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(json.dumps({"repo": str(REPO), **{b: run_backend(b, args.requests) for b in backends}}, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("HUB_LOG_LEVEL", "WARNING")
    main()
