"""Where a signed RedeemCoupon's time goes, in-process, and how long it holds its business
transaction open: on SQLite the write lock, on PostgreSQL the rows the redeem updates.

    .venv/bin/python bench/lock_hold.py                      # sqlite and postgresql
    .venv/bin/python bench/lock_hold.py --backend sqlite --requests 400

The hub's WSGI application is called directly (no HTTP, no other clients), as
bench/soap_cpu.py calls it. Each exchange is timed (wall clock, perf_counter) at the moments
it reaches: the business transaction begun (`begin_business`), the business work done with
the transaction still open (`business_done`), spyne's answer built (`spyne_done`), the answer
signed but for its SignatureValue (`prepared`), the business work and the answer's record
committed (`committed`), the SignatureValue computed (`sealed`), the answer returned (`end`).
The marks come from wrapping `Exchange.block`, `Exchange.finish`, `SoapEndpoint.call_service`,
`SoapEndpoint._prepared` and `_Answer.sealed` for the run. Prints JSON: the median
ms from the exchange's start to each mark, and `held_ms`, begin_business to committed. On
SQLite also the writers' lock itself (hub.db.database._SqliteConnection, wrapped the same
way): how many times an exchange takes it (`write_lock_turns`) and how long it holds it in
all (`write_lock_ms`, the median), whatever transactions it takes it for.
Every answer is checked (no Fault, else the run stops).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import add_backend_option, chosen_backends  # noqa: E402
from bench.soap_cpu import environ, served_in_process  # noqa: E402
from hub import ns  # noqa: E402
from hub.db import database  # noqa: E402
from hub.services import endpoint  # noqa: E402

MARKS = ("begin_business", "business_done", "spyne_done", "prepared", "committed", "sealed", "end")


class Marks:
    """The first time each mark is reached in the current exchange."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.write_lock: list[float] = []  # the writers' lock: taken at, given back at, ... (by `thread`)
        self.thread = threading.get_ident()  # the exchanges' (not a checkpointer's or a timer's)

    def __call__(self, name: str) -> None:
        self.at.setdefault(name, time.perf_counter())


def instrument(mark: Marks) -> None:
    block, finish = database.Exchange.block, database.Exchange.finish
    call_service, prepared, sealed = (
        endpoint.SoapEndpoint.call_service,
        endpoint.SoapEndpoint._prepared,
        endpoint._Answer.sealed,
    )

    @contextmanager
    def timed_block(self, write, *args, **kwargs):
        if self._hold_next and self._held is None:
            mark("begin_business")
        with block(self, write, *args, **kwargs) as connection:
            yield connection
        if self._held is not None:
            mark("business_done")

    def timed_finish(self, record):
        finish(self, record)
        mark("committed")

    def timed_call_service(self, *args, **kwargs):
        answer = call_service(self, *args, **kwargs)
        mark("spyne_done")
        return answer

    def timed_prepared(self, response):
        answer = prepared(self, response)
        mark("prepared")
        return answer

    def timed_sealed(self):
        body = sealed(self)
        mark("sealed")
        return body

    take, give_back = database._SqliteConnection.take_write_lock, database._SqliteConnection.give_back_write_lock

    def timed_take(self):
        was = self._writing
        take(self)
        if self._writing and not was and threading.get_ident() == mark.thread:
            mark.write_lock.append(time.perf_counter())

    def timed_give_back(self):
        was = self._writing
        give_back(self)
        if was and not self._writing and threading.get_ident() == mark.thread:
            mark.write_lock.append(time.perf_counter())

    database._SqliteConnection.take_write_lock = timed_take  # type: ignore[method-assign]
    database._SqliteConnection.give_back_write_lock = timed_give_back  # type: ignore[method-assign]
    database.Exchange.block = timed_block  # type: ignore[method-assign]
    database.Exchange.finish = timed_finish  # type: ignore[method-assign]
    endpoint.SoapEndpoint.call_service = timed_call_service  # type: ignore[method-assign]
    endpoint.SoapEndpoint._prepared = timed_prepared  # type: ignore[method-assign]
    endpoint._Answer.sealed = timed_sealed  # type: ignore[method-assign]


def run_backend(backend: str, n: int, warmup: int, mark: Marks) -> dict:
    timings: list[dict[str, float]] = []
    locks: list[tuple[int, float]] = []  # the writers' lock in each exchange: turns, ms held
    with served_in_process(backend, n + warmup, "hub-lockhold-") as (app, requests, coupons):
        for i, body in enumerate(requests.redeem(coupons)):
            mark.at.clear()
            mark.write_lock.clear()
            started = time.perf_counter()
            answer = b"".join(app(environ("/soap/office", f"{ns.OFFICE}#RedeemCoupon", body), lambda *args: None))
            mark("end")
            if b"Fault>" in answer:
                raise RuntimeError(f"RedeemCoupon answered a fault: {answer[:400]!r}")
            if i >= warmup:
                timings.append({name: (at - started) * 1000 for name, at in mark.at.items()})
                moments = mark.write_lock
                locks.append((len(moments) // 2, sum(moments[1::2]) * 1000 - sum(moments[0::2]) * 1000))
    result = {name: round(statistics.median(t[name] for t in timings), 3) for name in MARKS}
    result["held_ms"] = round(statistics.median(t["committed"] - t["begin_business"] for t in timings), 3)
    if backend == "sqlite":
        result["write_lock_turns"] = statistics.median(turns for turns, _ in locks)
        result["write_lock_ms"] = round(statistics.median(ms for _, ms in locks), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    mark = Marks()
    instrument(mark)
    backends = chosen_backends(args.backend)
    results = {"requests": args.requests, "ms_from_start_median": {}}
    for backend in backends:
        results["ms_from_start_median"][backend] = run_backend(backend, args.requests, args.warmup, mark)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
