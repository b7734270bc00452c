"""What sealing costs the message log's write path (issue 19).

    .venv/bin/python bench/seals.py [--exchanges 2000] [--backend sqlite|postgresql]

Appends request/answer pairs as the SOAP endpoint does (one transaction per record) to a
fresh database: without a sealer (the baseline, in the same run), with the default sealer
(every 100 records) and sealing every record (the worst case). Prints JSON: wall and CPU
microseconds per record, and the ratio to the baseline. Every log's chain and seals are
verified after its run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.soap import database  # noqa: E402
from hub.audit.archive import ArchivedLog  # noqa: E402
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog  # noqa: E402
from hub.audit.seals import Sealer  # noqa: E402
from hub.db.database import Database  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402

KEYS = REPO / "config" / "keys"
PAYLOAD = b"<soap:Envelope>" + b"x" * 4000 + b"</soap:Envelope>"  # about a signed request's size


def run(backend: str, exchanges: int, every: int | None) -> dict:
    identity = SigningIdentity.load(KEYS / "hub.key", KEYS / "hub.crt")
    workdir = Path(tempfile.mkdtemp())
    url, drop = (
        (f"sqlite:///{workdir}/hub.sqlite3", lambda: None) if backend == "sqlite" else database(backend, workdir)
    )
    db = Database(url)
    upgrade(db)
    try:
        log = MessageLog(db, Sealer(identity, lambda: datetime.now(UTC), every, 3600) if every else None)
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(exchanges):
            at = datetime.now(UTC)
            log.append(Entry(at, REQUEST, "office", "pojazd-1465", f"log-{i}", PAYLOAD))
            log.append(Entry(at, RESPONSE, "office", "pojazd-1465", f"log-{i}", PAYLOAD))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        report = ArchivedLog(db, Path(tempfile.mkdtemp()), identity).verify(every)
        assert report.ok and report.records == 2 * exchanges, report.problems
        return {
            "sealer": f"every {every} records" if every else "none (baseline)",
            "seals": report.seals,
            "wall_us_per_record": round(wall / (2 * exchanges) * 1e6, 1),
            "cpu_us_per_record": round(cpu / (2 * exchanges) * 1e6, 1),
        }
    finally:
        db.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchanges", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    results = [run(args.backend, args.exchanges, every) for every in (None, 100, 1)]
    base = results[0]["cpu_us_per_record"]
    for r in results:
        r["cpu_ratio_to_baseline"] = round(r["cpu_us_per_record"] / base, 3)
    print(json.dumps({"backend": args.backend, "exchanges": args.exchanges, "results": results}, indent=2))


if __name__ == "__main__":
    main()
