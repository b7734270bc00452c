"""Where a signed SOAP exchange's CPU goes, step by step, in-process: the thread CPU
(time.thread_time) each of the endpoint's steps takes in a VerifyCoupon and a RedeemCoupon,
on SQLite and/or PostgreSQL, as bench/soap_cpu.py serves them (`served_in_process`).

    .venv/bin/python bench/soap_stages.py                     # sqlite and postgresql
    .venv/bin/python bench/soap_stages.py --backend sqlite --requests 2000

The steps are timed by wrapping them for the run, as bench/lock_hold.py marks its moments:
the body read, its parse, the signature's check (`verify_envelope`), the request's record
with its replay-cache row (`_log_request`; on SQLite a read's is written once its turn is over,
`_once_logged`, and counted here too), the payload's schema check, spyne with the
business work (`call_service`; the service's own call, `CouponService.verify` or `.redeem`,
is `business` and the rest `spyne`), the answer's signature but for its SignatureValue
(`_prepared`), its record (`_log_answer`, where a state change commits), the SignatureValue
(`seal_answer`, the key's work, after the record), the metrics and the log line (`_account`);
`other` is what is left of the exchange (`_serve`). The answer records a read hands to the
group commit are written by a timer thread (`answer_records_flush`): its CPU, shared out over
the exchanges. Prints JSON: µs per exchange (the mean) for each step, and the exchange's.

Read it beside the bare signed service (bench/signed_baseline_app.py): the parse, the
signature's check, spyne and the answer's signature are its work too; the rest is the hub's
own. The thread CPU is the step's in the exchange's flow, where each exchange's parsing,
signing and database work push each other's code and data out of the processor's caches: a
step costs more here than in a loop of its own (BENCHMARKS.md run 17: the request's record on
SQLite, 138 µs in a loop of its own, 280-306 µs here). Every answer is checked (200 and no
Fault, else the run stops).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import add_backend_option, chosen_backends  # noqa: E402
from bench.soap_cpu import cpu_ms, served_in_process  # noqa: E402
from hub import ns  # noqa: E402
from hub.coupons.service import CouponService  # noqa: E402
from hub.services import endpoint  # noqa: E402
from hub.services.group_commit import GroupCommit  # noqa: E402

# step: (where it is looked up, its name there); `business` runs inside `call_service`
STEPS: dict[str, tuple[object, str]] = {
    "receive": (endpoint.SoapEndpoint, "_receive"),
    "parse": (endpoint, "parse_xml"),
    "verify_signature": (endpoint, "verify_envelope"),
    "request_record": (endpoint.SoapEndpoint, "_log_request"),
    "request_record_after_turn": (endpoint.SoapEndpoint, "_once_logged"),  # counted as request_record
    "validate_payload": (endpoint.SoapEndpoint, "validated_payload"),
    "call_service": (endpoint.SoapEndpoint, "call_service"),
    "sign_answer": (endpoint.SoapEndpoint, "_prepared"),
    "seal_answer": (endpoint._Answer, "sealed"),
    "answer_record": (endpoint.SoapEndpoint, "_log_answer"),
    "metrics_and_log_line": (endpoint.SoapEndpoint, "_account"),
    "exchange": (endpoint.SoapEndpoint, "_serve"),
    "answer_records_flush": (GroupCommit, "flush"),
}
BUSINESS = {"VerifyCoupon": "verify", "RedeemCoupon": "redeem"}


class Clock:
    """Thread CPU seconds spent in each step while `on`."""

    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self.on = False

    def timed(self, step: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                if self.on:
                    self.spent[step] += time.thread_time() - started

        return timed


def instrument(clock: Clock) -> None:
    for step, (owner, name) in STEPS.items():
        setattr(owner, name, clock.timed(step, getattr(owner, name)))
    for name in BUSINESS.values():
        setattr(CouponService, name, clock.timed("business", getattr(CouponService, name)))


def per_exchange_us(spent: Counter[str], n: int) -> dict[str, float]:
    """µs per exchange, `spyne` and `other` being what is left of `call_service` and `exchange`."""
    us = {step: spent[step] * 1e6 / n for step in [*STEPS, "business"]}
    us["spyne"] = us.pop("call_service") - us["business"]
    us["request_record"] += us.pop("request_record_after_turn")
    inside = ("receive", "parse", "verify_signature", "request_record", "validate_payload")
    inside += ("business", "spyne", "sign_answer", "answer_record", "seal_answer", "metrics_and_log_line")
    us["other"] = us["exchange"] - sum(us[step] for step in inside)
    return {step: round(value, 1) for step, value in us.items()}


def run_backend(backend: str, n: int, warmup: int, clock: Clock) -> dict:
    result = {}
    with served_in_process(backend, n + warmup, "hub-stages-") as (app, requests, coupons):
        bodies = {"VerifyCoupon": requests.verify(coupons, n + warmup), "RedeemCoupon": requests.redeem(coupons)}
        path = "/soap/office"
        for op in ("VerifyCoupon", "RedeemCoupon"):
            cpu_ms(app, path, f"{ns.OFFICE}#{op}", bodies[op][:warmup])
            app.hub.answer_records.flush()
            clock.spent.clear()
            clock.on = True
            try:
                cpu_ms(app, path, f"{ns.OFFICE}#{op}", bodies[op][warmup:])
                app.hub.answer_records.flush()  # the last reads' records, on this thread: counted too
            finally:
                clock.on = False
            result[op] = per_exchange_us(clock.spent, n)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    clock = Clock()
    instrument(clock)
    backends = chosen_backends(args.backend)
    results: dict = {"requests": args.requests, "thread_cpu_us_per_exchange": {}}
    for backend in backends:
        results["thread_cpu_us_per_exchange"][backend] = run_backend(backend, args.requests, args.warmup, clock)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
