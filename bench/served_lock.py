"""The SQLite writers' lock under `hub serve`: how long a signed RedeemCoupon (or VerifyCoupon)
holds it, and how much of the time it is held, for each worker thread count asked for.

    .venv/bin/python bench/served_lock.py                     # RedeemCoupon, --threads 4 and 1
    .venv/bin/python bench/served_lock.py --operation verify --threads 4 --rounds 2

bench/lock_hold.py times the hold in-process, one exchange at a time. Served (two workers
under wrk's 8 clients, as bench/soap.py runs the hub) it is longer: each SQLite statement
lets go of the GIL, and a worker's other threads (gunicorn's accept loop, bodies being read,
answers being sealed and logged) may keep it for up to the interpreter's 5 ms switch interval,
while the other worker's writers wait for the lock. Each `--threads` setting gets a `hub serve`
of its own, on a fresh database, all up at once, with bench/lock_stats/sitecustomize.py on its
path: it times every hold of the writers' lock in each process. The rounds go from one setting
to the next, in turn. Prints JSON per setting (medians of the rounds): the rate and p99 as wrk
saw them, and per request the lock's holds, how long a hold lasts (p50, p90, p99, mean, over
every round's holds), the time the lock was held in all, and that time as a share of the
rounds'. `hub ledger verify` and `hub audit verify` must pass on each database afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bench.soap as soap  # noqa: E402
from hub import ns  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402

HOOK = REPO / "bench/lock_stats"
STATS_ENV = "HUB_BENCH_LOCK_STATS"  # the folder the hook writes each process's holds to
FIRST_PORT = 8341


def holds_in(folder: Path, windows: list[tuple[float, float]]) -> list[list[float]]:
    """Each window's holds (seconds) from the processes' files: those taken within it."""
    every = [hold for file in folder.glob("*.json") for hold in json.loads(file.read_text())]
    return [[held for taken, held in every if start <= taken <= end] for start, end in windows]


def percentile_ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[int(share * (len(ordered) - 1))] * 1000, 3)


def summary(loads: list[dict], per_round: list[list[float]], windows: list[tuple[float, float]], n: int) -> dict:
    """One setting's rounds (`loads`: wrk's results) and each round's holds, per request `n`."""
    every = [held for holds in per_round for held in holds]
    return {
        "per_s": statistics.median(r["per_s"] for r in loads),
        "p99_ms": statistics.median(r["p99_ms"] for r in loads),
        "holds_per_request": round(len(every) / (len(loads) * n), 2),
        "hold_ms": {
            "p50": percentile_ms(every, 0.5),
            "p90": percentile_ms(every, 0.9),
            "p99": percentile_ms(every, 0.99),
            "mean": round(statistics.mean(every) * 1000, 3),
        },
        "held_ms_per_request": round(statistics.median(sum(holds) * 1000 / n for holds in per_round), 3),
        "held_share": round(
            statistics.median(
                sum(holds) / (end - start) for holds, (start, end) in zip(per_round, windows, strict=True)
            ),
            3,
        ),
        "rounds_per_s": [r["per_s"] for r in loads],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", choices=["verify", "redeem"], default="redeem")
    parser.add_argument("--threads", type=int, nargs="+", default=[4, 1], help="a worker's threads, each a server")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1000, help="per round and setting")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    if any(t < 1 for t in args.threads) or len(set(args.threads)) != len(args.threads):
        sys.exit("bench/served_lock.py: --threads takes distinct counts of at least 1")
    soap.need_wrk()
    per_server = args.rounds * args.requests + args.warmup
    identity = SigningIdentity.load(REPO / "config/keys/pojazd-1465.key", REPO / "config/keys/pojazd-1465.crt")
    requests = soap.Requests(identity, ttl_s=3600)
    operation = "VerifyCoupon" if args.operation == "verify" else "RedeemCoupon"
    action = f"{ns.OFFICE}#{operation}"
    with ExitStack() as stack:
        servers = {}
        for i, threads in enumerate(args.threads):
            port = FIRST_PORT + i
            config_dir, coupons = stack.enter_context(soap.prepared_hub("sqlite", per_server, f"hub-lock-{port}-"))
            bodies = requests.verify(coupons, per_server) if operation == "VerifyCoupon" else requests.redeem(coupons)
            stats = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-lock-stats-")))
            hub = subprocess.Popen(
                [
                    str(REPO / ".venv/bin/hub"), "--config", str(config_dir), "serve", "--port", str(port),
                    "--workers", "2", "--threads", str(threads),
                ],
                cwd=REPO, env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{HOOK}", STATS_ENV: str(stats)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            stack.callback(soap.stop, [hub])
            soap.wait_up(f"http://127.0.0.1:{port}/soap/office?wsdl")
            soap.load(port, "/soap/office", action, bodies[: args.warmup], args.clients)
            servers[threads] = {"port": port, "bodies": bodies, "hub": hub, "config": config_dir, "stats": stats}
        rounds: dict[int, list[dict]] = {threads: [] for threads in servers}
        windows: dict[int, list[tuple[float, float]]] = {threads: [] for threads in servers}
        for r in range(args.rounds):
            for threads, server in servers.items():
                first = args.warmup + r * args.requests
                chunk = server["bodies"][first : first + args.requests]
                started = time.time()
                result = soap.load(server["port"], "/soap/office", action, chunk, args.clients)
                windows[threads].append((started, time.time()))
                if result["errors"]:
                    sys.exit(f"--threads {threads}: {result['errors']} errors, the first: {result['first_error']}")
                rounds[threads].append(result)
        report: dict = {
            "machine": soap.machine(),
            "operation": operation,
            "rounds": args.rounds,
            "requests_per_round": args.requests,
            "clients": args.clients,
            "threads": {},
        }
        for threads, server in servers.items():
            soap.stop([server["hub"]])  # a graceful stop: the workers write their holds out
            per_round = holds_in(server["stats"], windows[threads])
            if not any(per_round):
                sys.exit(f"--threads {threads}: no hold of the writers' lock was recorded")
            report["threads"][threads] = summary(rounds[threads], per_round, windows[threads], args.requests)
            report["threads"][threads]["checks"] = soap.hub_checks(server["config"])
    print(json.dumps(report, indent=2))
    verdicts = [(t, name, v) for t, r in report["threads"].items() for name, v in r["checks"].items()]
    failed = [f"--threads {t} {name}" for t, name, v in verdicts if v != "ok"]
    if failed:
        sys.exit(f"failed checks: {', '.join(failed)}")


if __name__ == "__main__":
    main()
