"""Ledger holds and captures per second on PostgreSQL from several processes.

    .venv/bin/python bench/ledger.py --processes 8 --seconds 10

Each process runs transactions in a loop for the same wall time: one hold
(a PENDING transfer company -> coupons:clearing) and, in the next transaction,
its capture (POST). Every process has its own company account, all share the
clearing account (as coupons do), so the clearing account's row lock is the
point of contention the number shows.

Baseline, same run, same processes and connections: a transaction that inserts
one row into a plain table and commits (the cost of a durable PostgreSQL commit
with nothing of the ledger in it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.soap import PG_ADMIN, machine  # noqa: E402
from hub.db.database import Database  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.ledger import Ledger  # noqa: E402
from hub.ledger.chart import CLEARING, COMPANY, CONTROL  # noqa: E402


def worker(url: str, n: int, mode: str, seconds: float, start_at: float, out) -> None:
    db = Database(url)
    company = f"company:bench{n}"
    done = i = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        i += 1
        if mode == "baseline":
            with db.transaction() as s:
                s.execute(text("INSERT INTO bench_baseline (worker, n) VALUES (:w, :n)"), {"w": n, "n": i})
            done += 1
            continue
        hold_id = f"hold:{n}:{i}"
        with db.transaction() as s:
            Ledger(s).hold(hold_id, company, CLEARING, 161_50, "HOLD")
        with db.transaction() as s:
            Ledger(s).post(f"capture:{n}:{i}", hold_id, code="CAPTURE")
        done += 2
    db.dispose()
    out.put(done)


def run(url: str, processes: int, mode: str, seconds: float) -> float:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=worker, args=(url, n, mode, seconds, start_at, out)) for n in range(processes)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    name = f"hub_bench_ledger_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(url)
        upgrade(db)
        with db.transaction() as s:
            s.execute(text("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, worker int, n int)"))
            ledger = Ledger(s)
            ledger.open_account(CLEARING, CONTROL)
            from hub.ledger.chart import ADJUSTMENTS

            ledger.open_account(ADJUSTMENTS, CONTROL)
            for n in range(args.processes):
                ledger.open_account(f"company:bench{n}", COMPANY, no_overdraft=True)
                ledger.transfer(f"fund:{n}", ADJUSTMENTS, f"company:bench{n}", 10**12, "ADJUSTMENT")
        db.dispose()
        baseline = run(url, args.processes, "baseline", args.seconds)
        ledger_ops = run(url, args.processes, "ledger", args.seconds)
        db = Database(url)
        with db.read() as s:
            Ledger(s).verify()  # every total re-derived from the transfers after the run
        db.dispose()
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "processes": args.processes,
                    "seconds": args.seconds,
                    "baseline_commits_per_s": round(baseline, 1),
                    "ledger_ops_per_s": round(ledger_ops, 1),
                    "ratio": round(ledger_ops / baseline, 3),
                    "ledger_verified": True,
                },
                indent=2,
            )
        )
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
