"""How long the replay cache's purge holds the database: the expired signatures a minute of
traffic leaves, forgotten as the hub does (`DatabaseReplayCache.purge`: one DELETE of them
all, the baseline) and in chunks of `--chunk` rows a transaction (the alternative measured in
BENCHMARKS.md run 26 and not taken: each chunk the rows that expired up to the chunk's last
expiry, one range of the expiry's index), each on a fresh database of its own, same run.

    .venv/bin/python bench/replay_purge.py                          # sqlite and postgresql
    .venv/bin/python bench/replay_purge.py --backend sqlite --expired 100000

The table holds `--expired` rows past their expiry and as many still fresh, as a process finds
it at its purge. On SQLite a transaction that deletes holds the write lock, which every
request's record waits for (every writer of every process): `longest_transaction_ms` is
the longest such wait the purge makes. On PostgreSQL the deleted rows are locked, which no
request waits for. Prints JSON, per database: the baseline's and the chunks' total time, how
many transactions, and the longest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import bindparam, delete, func, insert, select  # noqa: E402

from bench.child import add_backend_option, chosen_backends  # noqa: E402
from bench.soap import database, machine  # noqa: E402
from hub.db.database import Database  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.db.replay import DatabaseReplayCache, SeenSignature  # noqa: E402


def filled(backend: str, workdir: Path, name: str, expired: int, now: datetime) -> tuple[Database, Callable[[], None]]:
    """A fresh database `name` (and how to drop it) whose replay cache holds `expired` rows
    past their expiry, a second apart, and as many fresh ones."""
    (workdir / name).mkdir()
    url, drop = database(backend, workdir / name, name_suffix=name)
    db = Database(url)
    upgrade(db)
    rows = [
        {
            "key": hashlib.sha256(str(i).encode()).hexdigest(),
            "expires_at": now - timedelta(seconds=expired - i) if i < expired else now + timedelta(seconds=i),
        }
        for i in range(2 * expired)
    ]
    with db.transaction() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(SeenSignature), rows[start : start + 5000])
    return db, drop


def one_delete(db: Database, now: datetime, chunk: int) -> dict:
    """The hub's purge as it is."""
    started = time.perf_counter()
    forgotten = DatabaseReplayCache(db, clock=lambda: now).purge()
    ms = (time.perf_counter() - started) * 1000
    return {"forgotten": forgotten, "total_ms": round(ms, 1), "transactions": 1, "longest_transaction_ms": round(ms, 1)}


_CHUNK_ENDS_AT = (
    select(SeenSignature.expires_at)
    .where(SeenSignature.expires_at < bindparam("now"))
    .order_by(SeenSignature.expires_at)
    .offset(bindparam("chunk") - 1)
    .limit(1)
    .scalar_subquery()
)
_FORGET_CHUNK = delete(SeenSignature).where(SeenSignature.expires_at <= func.coalesce(_CHUNK_ENDS_AT, bindparam("now")))


def chunked(db: Database, now: datetime, chunk: int) -> dict:
    """`chunk` rows a transaction (and any that expired with the chunk's last), until fewer are left."""
    each: list[float] = []
    forgotten = 0
    started = time.perf_counter()
    while True:
        began = time.perf_counter()
        with db.transaction() as session:
            done = session.connection().execute(_FORGET_CHUNK, {"now": now, "chunk": chunk}).rowcount
        each.append((time.perf_counter() - began) * 1000)
        forgotten += done
        if done < chunk:
            break
    return {
        "forgotten": forgotten,
        "total_ms": round((time.perf_counter() - started) * 1000, 1),
        "transactions": len(each),
        "longest_transaction_ms": round(max(each), 1),
        "chunk": chunk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--expired", type=int, default=30_000, help="rows past their expiry (as many fresh)")
    parser.add_argument("--chunk", type=int, default=500, help="rows a transaction in the chunked purge")
    args = parser.parse_args()
    now = datetime.now(UTC)
    results: dict = {"machine": machine(), "expired": args.expired}
    for backend in chosen_backends(args.backend):
        with tempfile.TemporaryDirectory(prefix="hub-purge-") as work:
            workdir = Path(work)
            results[backend] = {}
            for name, purge in (("one_delete", one_delete), ("chunked", chunked)):
                db, drop = filled(backend, workdir, name, args.expired, now)
                try:
                    results[backend][name] = purge(db, now, args.chunk)
                finally:
                    db.dispose()
                    drop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
