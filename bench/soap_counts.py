"""What a signed SOAP request costs, counted rather than timed: the hub's WSGI application
called in-process (as bench/soap_cpu.py calls it) for one operation, beside the bare signed
service (bench/signed_baseline_app.py) for VerifyCoupon; per request, the same count for the
same code on any machine, however busy, where a timed difference below ~10% drowns in the
host's drift (BENCHMARKS.md, run 37). Within ~1%: the reads' group commit and the log's seals
run when their time comes, in threads of their own (counted too). What it cannot see: the
kernel's work (the WAL's writes, the switches between threads), waits, and how fast each
instruction runs on the host.

    .venv/bin/python bench/soap_counts.py                            # bytecodes, SQLite VerifyCoupon
    .venv/bin/python bench/soap_counts.py --operation redeem --top 40
    .venv/bin/python bench/soap_counts.py --count instructions       # under valgrind: ~5 minutes

`--count bytecodes` (sys.settrace, opcode events): the Python bytecodes a request runs, by
function, its own and with what it calls; the functions whose own count differs most between
the hub and the bare service. `--count instructions`: each side run under
`valgrind --tool=callgrind` (Debian's valgrind), the loop alone (a marker call before and
after it), the processor instructions a request runs, by library (the interpreter, lxml,
OpenSSL, SQLite...). valgrind's processor lacks some of the host's instructions (SHA
extensions, AVX-512), so the hashing and RSA counts are those of OpenSSL's generic code.
Prints JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.soap_cpu import bare_signed_requests, cpu_ms, served_in_process  # noqa: E402
from hub import ns  # noqa: E402

ACTIONS = {"verify": "VerifyCoupon", "redeem": "RedeemCoupon"}


class BytecodeCount:
    """Counts the bytecodes run while it is on, by code object: each function's own, and with
    what it calls (a thread's count between the function's call and return events; a
    generator's each time it runs). Every thread begun while it is on is counted too."""

    def __init__(self) -> None:
        self.total = 0
        self.own: collections.Counter = collections.Counter()
        self.inclusive: collections.Counter = collections.Counter()
        self._thread = threading.local()

    def _called(self, frame, event: str, arg) -> Callable | None:
        if event != "call":
            return None
        frame.f_trace_opcodes = True
        thread = self._thread
        if not hasattr(thread, "stack"):
            thread.count, thread.stack = 0, []
        thread.stack.append((frame.f_code, thread.count))
        return self._step

    def _step(self, frame, event: str, arg) -> Callable:
        thread = self._thread
        if event == "opcode":
            self.total += 1
            thread.count += 1
            self.own[frame.f_code] += 1
        elif event == "return" and thread.stack:
            code, began_at = thread.stack.pop()
            self.inclusive[code] += thread.count - began_at
        return self._step

    def __enter__(self) -> BytecodeCount:
        sys.settrace(self._called)
        threading.settrace(self._called)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]  # None turns it off


def _function(code) -> str:
    path = code.co_filename
    for prefix in (f"{REPO}/.venv/lib/python3.11/site-packages/", f"{REPO}/", sys.prefix + "/lib/"):
        path = path.removeprefix(prefix)
    return f"{path}:{code.co_firstlineno}({code.co_qualname})"


def run_loop(side: str, backend: str, operation: str, n: int, warmup: int, counted: Callable) -> None:
    """`warmup` requests, then `n` inside `counted()` (a context manager): the bare signed
    service's VerifyCoupons (`side` "bare") or the hub's on `backend`."""
    if side == "bare":
        from bench.signed_baseline_app import app

        bodies = bare_signed_requests(n + warmup)
        cpu_ms(app, "/", "VerifyCoupon", bodies[:warmup])
        with counted():
            cpu_ms(app, "/", "VerifyCoupon", bodies[warmup:])
        return
    with served_in_process(backend, n + warmup, "hub-soapcounts-") as (app, requests, coupons):
        bodies = requests.verify(coupons, n + warmup) if operation == "verify" else requests.redeem(coupons)
        action = f"{ns.OFFICE}#{ACTIONS[operation]}"
        cpu_ms(app, "/soap/office", action, bodies[:warmup])
        with counted():
            cpu_ms(app, "/soap/office", action, bodies[warmup:])
        app.hub.answer_records.flush()


def bytecodes(side: str, backend: str, operation: str, n: int, warmup: int) -> BytecodeCount:
    count = BytecodeCount()
    run_loop(side, backend, operation, n, warmup, lambda: count)
    return count


def compare_bytecodes(args: argparse.Namespace) -> dict[str, Any]:
    n = args.requests
    bare = bytecodes("bare", args.backend, "verify", n, args.warmup)
    hub = bytecodes("hub", args.backend, args.operation, n, args.warmup)
    bare_own = {_function(code): count for code, count in bare.own.items()}
    hub_own = {_function(code): count for code, count in hub.own.items()}
    hub_inclusive = {_function(code): count for code, count in hub.inclusive.items()}
    differences = sorted(
        ((name, hub_own.get(name, 0) - bare_own.get(name, 0)) for name in set(bare_own) | set(hub_own)),
        key=lambda item: -abs(item[1]),
    )
    return {
        "count": "bytecodes a request",
        "bare_signed_verify": round(bare.total / n),
        f"hub_{args.backend}_{args.operation}": round(hub.total / n),
        "hub_own": round((hub.total - bare.total) / n),
        "largest_differences": [
            {
                "function": name,
                "own_difference": round(difference / n),
                "hub_own": round(hub_own.get(name, 0) / n),
                "hub_with_callees": round(hub_inclusive.get(name, 0) / n),
            }
            for name, difference in differences[: args.top]
        ],
    }


# -- instructions (callgrind) -------------------------------------------------------

_MARK_START, _MARK_END = "getpgrp", "getsid"  # libc functions only the markers call in the loop


class _Marked:
    """The loop between two marker calls: callgrind zeroes its counts at the first and
    writes them out at the second (--zero-before, --dump-before)."""

    def __enter__(self) -> None:
        os.getpgrp()

    def __exit__(self, *exc: object) -> None:
        os.getsid(0)


def _callgrind_costs(path: Path) -> collections.Counter:
    """Each (library, function)'s own instructions in a callgrind output file (its cost lines;
    a call's line, which carries the callee's inclusive cost, skipped)."""
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    library = function = "?"
    costs: collections.Counter = collections.Counter()
    skip_call_cost = False

    def named(kind: str, rest: str) -> str:
        match = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if match is None:
            return rest
        if match.group(2) is not None:
            names[kind][match.group(1)] = match.group(2)
        return names[kind].get(match.group(1), "?")

    for line in path.read_text().splitlines():
        if not line:
            continue
        if line[0].isdigit() or line[0] in "+-*":
            if skip_call_cost:
                skip_call_cost = False
            elif len(parts := line.split()) >= 2:
                costs[(library, function)] += int(parts[1])
            continue
        key, _, rest = line.partition("=")
        if key == "calls":
            skip_call_cost = True
        elif key in ("ob", "cob"):
            value = named("ob", rest)
            if key == "ob":
                library = value
        elif key in ("fn", "cfn"):
            value = named("fn", rest)
            if key == "fn":
                function = value
    return costs


def instructions(side: str, args: argparse.Namespace, workdir: Path) -> collections.Counter:
    if shutil.which("valgrind") is None:
        sys.exit("--count instructions runs valgrind: apt-get install valgrind")
    out = workdir / f"callgrind.{side}.%p"
    command = [
        "valgrind", "--tool=callgrind", f"--zero-before={_MARK_START}", f"--dump-before={_MARK_END}",
        f"--callgrind-out-file={out}", sys.executable, __file__, "--inner", side,
        "--backend", args.backend, "--operation", args.operation,
        "--requests", str(args.requests), "--warmup", str(args.warmup),
    ]  # fmt: skip
    done = subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    dumps = sorted(workdir.glob(f"callgrind.{side}.*.1"))
    if done.returncode != 0 or len(dumps) != 1:
        sys.exit(f"valgrind on the {side} side failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return _callgrind_costs(dumps[0])


def compare_instructions(args: argparse.Namespace) -> dict[str, Any]:
    n = args.requests
    with tempfile.TemporaryDirectory(prefix="hub-soapcounts-") as workdir:
        bare, hub = (instructions(side, args, Path(workdir)) for side in ("bare", "hub"))

    def by_library(costs: collections.Counter) -> collections.Counter:
        libraries: collections.Counter = collections.Counter()
        for (library, _), cost in costs.items():
            libraries[library.rsplit("/", 1)[-1]] += cost
        return libraries

    bare_libraries, hub_libraries = by_library(bare), by_library(hub)
    libraries = sorted(set(bare_libraries) | set(hub_libraries), key=lambda name: -hub_libraries[name])
    return {
        "count": "thousand instructions a request (callgrind)",
        "bare_signed_verify": round(sum(bare.values()) / n / 1000, 1),
        f"hub_{args.backend}_{args.operation}": round(sum(hub.values()) / n / 1000, 1),
        "by_library": {
            name: {"bare": round(bare_libraries[name] / n / 1000, 1), "hub": round(hub_libraries[name] / n / 1000, 1)}
            for name in libraries[: args.top]
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", choices=("bytecodes", "instructions"), default="bytecodes")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--operation", choices=tuple(ACTIONS), default="verify")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--inner", choices=("bare", "hub"), help=argparse.SUPPRESS)  # one side, under valgrind
    args = parser.parse_args()
    if args.inner:
        run_loop(args.inner, args.backend, args.operation, args.requests, args.warmup, _Marked)
        return
    compare = compare_bytecodes if args.count == "bytecodes" else compare_instructions
    print(json.dumps({"requests": args.requests, **compare(args)}, indent=2))


if __name__ == "__main__":
    main()
