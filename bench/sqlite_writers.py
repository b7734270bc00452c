"""SQLite under concurrent writers: write transactions per second and their latency when
`processes` processes write at once (each a short transaction through hub.db.Database:
BEGIN IMMEDIATE, one insert, COMMIT), and the CPU each process spends per transaction.

    .venv/bin/python bench/sqlite_writers.py --processes 8 --seconds 8

Run it on two checkouts to compare how writers wait for SQLite's lock (SQLite's busy
handler sleeps 1-100 ms between tries; a waiter on a file lock is woken at once)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from hub.db.database import Database  # noqa: E402


def busy(ms: float) -> None:
    """CPU work inside the transaction, as a redeem's domain work holds the lock."""
    until = time.perf_counter() + ms / 1000
    while time.perf_counter() < until:
        pass


def worker(url: str, n: int, seconds: float, work_ms: float, start_at: float, out) -> None:
    db = Database(url)
    waits: list[float] = []
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = time.process_time()
    deadline = start_at + seconds
    while time.time() < deadline:
        began = time.perf_counter()
        with db.transaction() as s:
            s.execute(text("INSERT INTO bench (worker, at) VALUES (:w, :t)"), {"w": n, "t": began})
            busy(work_ms)
        waits.append(time.perf_counter() - began)
    out.put((waits, time.process_time() - cpu))
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--work-ms", type=float, default=0.0, help="CPU work in each transaction")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hub-sqlite-writers-"))
    url = f"sqlite:///{workdir}/bench.sqlite3"
    db = Database(url)
    with db.transaction() as s:
        s.execute(text("CREATE TABLE bench (id INTEGER PRIMARY KEY, worker INT, at REAL)"))
    db.dispose()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [
        ctx.Process(target=worker, args=(url, n, args.seconds, args.work_ms, start_at, out))
        for n in range(args.processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(w for waits, _ in results for w in waits)
    count = len(latencies)
    print(
        json.dumps(
            {
                "repo": str(REPO),
                "processes": args.processes,
                "work_ms": args.work_ms,
                "transactions_per_s": round(count / args.seconds, 1),
                "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
                "latency_ms_p99": round(latencies[int(count * 0.99)] * 1000, 2),
                "latency_ms_max": round(latencies[-1] * 1000, 2),
                "cpu_ms_per_transaction": round(sum(c for _, c in results) * 1000 / count, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
