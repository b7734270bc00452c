"""Many OS processes acting on one database at once, started together on a barrier; or
many threads of the test's own hub, for what one process must serialise itself."""

from __future__ import annotations

import multiprocessing as mp
import threading
import traceback
from collections.abc import Callable
from typing import TypeVar

WORKERS = 8
T = TypeVar("T")
FORK = mp.get_context("fork")


def _worker(db_url, config, clock, barrier, results, index, action):
    from hub.app import Hub
    from hub.db.database import Database
    from hub.errors import HubError

    hub = Hub(config, clock=clock, db=Database(db_url))
    try:
        barrier.wait(timeout=30)
        results.put((index, "ok", action(hub, index)))
    except HubError as e:
        results.put((index, e.code, e.detail))
    except Exception:  # noqa: BLE001 - reported to the parent as a failure
        results.put((index, "crash", traceback.format_exc()))
    finally:
        hub.close()


def run_at_once(db_url, hub, action, workers=WORKERS):
    barrier, results = FORK.Barrier(workers), FORK.Queue()
    procs = [
        FORK.Process(target=_worker, args=(db_url, hub.config, hub.clock, barrier, results, i, action))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    out = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    crashes = [r for r in out if r[1] == "crash"]
    assert not crashes, crashes[0][2]
    return out


def in_threads(call: Callable[[], T], threads: int) -> list[T]:
    """`call()` in `threads` threads at once; their results, in the order they finished.
    An exception in any thread fails the test."""
    results: list[T] = []
    errors: list[Exception] = []

    def one() -> None:
        try:
            results.append(call())
        except Exception as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    running = [threading.Thread(target=one) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    assert errors == []
    return results
