"""Two versions of the hub, measured against each other in interleaved rounds: each tree's
`hub serve` (2 workers, as bench/soap.py runs it) on a fresh database of its own, both up
at once, and wrk's load (bench/soap.py's `load`) sent to one, then the other, round after
round, in the order A B, B A, A B, ... On this shared 2-core host the same server drifts by
±25% from one minute to the next, more than most changes; rounds seconds apart see the
same drift, so the medians and the round-by-round pairs compare. Not every drift is shared:
on some hosts two servers of the same tree differ by up to 17% for a whole run (BENCHMARKS.md,
run 37), so before trusting a small difference, compare two exports of one commit a few times.

    .venv/bin/python bench/compare.py --backend sqlite --operation verify /tmp/before .
    git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/.venv" /tmp/before/.venv

Each tree is served from its own code (PYTHONPATH), whatever the venv's editable install
points at, on a database its own migrations made (a schema change is measured too); the
requests are signed once, here. Prints JSON: per tree, the rate, p99, the CPU the hub's
processes (and PostgreSQL's) spent per request and the share of the machine left idle
(bench/soap.py's `measured_load`), for each round and as medians, and how many rounds the
second tree won. `hub ledger verify` and `hub audit verify` run on both databases
afterwards and must pass, else the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bench.soap as soap  # noqa: E402
from hub import ns  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402

PORTS = (8331, 8332)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs=2, type=Path, help="two checkouts of the hub, each with .venv")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--operation", choices=["verify", "redeem"], default="verify")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=1000, help="per round and tree")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    soap.need_wrk()
    trees = [t.resolve() for t in args.trees]
    for tree in trees:
        if not (tree / ".venv/bin/hub").exists():
            sys.exit(f"bench/compare.py: {tree} has no .venv/bin/hub")
    per_tree = args.rounds * args.requests + args.warmup
    identity = SigningIdentity.load(REPO / "config/keys/pojazd-1465.key", REPO / "config/keys/pojazd-1465.crt")
    requests = soap.Requests(identity, ttl_s=3600)
    action = f"{ns.OFFICE}#{'VerifyCoupon' if args.operation == 'verify' else 'RedeemCoupon'}"
    rounds: dict[Path, list[dict]] = {tree: [] for tree in trees}
    checks: dict[str, dict] = {}
    with ExitStack() as stack:
        served = {}
        for tree, port in zip(trees, PORTS, strict=True):
            config_dir, coupons = stack.enter_context(
                soap.prepared_hub(args.backend, per_tree, f"hub-compare-{port}-", name_suffix=str(port), tree=tree)
            )
            bodies = requests.verify(coupons, per_tree) if args.operation == "verify" else requests.redeem(coupons)
            hub = subprocess.Popen(
                [
                    str(tree / ".venv/bin/hub"), "--config", str(config_dir),
                    "serve", "--port", str(port), "--workers", "2",
                ],
                cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            stack.callback(soap.stop, [hub])
            soap.wait_up(f"http://127.0.0.1:{port}/soap/office?wsdl")
            served[tree] = (port, bodies, hub, config_dir)
        for port, bodies, _, _ in served.values():
            soap.load(port, "/soap/office", action, bodies[: args.warmup], args.clients)
        sent = dict.fromkeys(trees, args.warmup)
        order = [tree for r in range(args.rounds) for tree in (trees if r % 2 == 0 else trees[::-1])]
        for tree in order:
            port, bodies, hub, _ = served[tree]
            chunk = bodies[sent[tree] : sent[tree] + args.requests]
            sent[tree] += args.requests
            result = soap.measured_load(hub, port, "/soap/office", action, chunk, args.clients)
            if result["errors"]:
                sys.exit(f"{tree}: {result['errors']} errors, the first: {result['first_error']}")
            rounds[tree].append(
                {
                    "per_s": result["per_s"],
                    "p99_ms": result["p99_ms"],
                    "hub_cpu_ms": result["server_cpu_ms"],
                    "postgresql_cpu_ms": result["postgresql_cpu_ms"],
                    "idle": result["idle"],
                }
            )
        for tree, (_, _, hub, config_dir) in served.items():
            soap.stop([hub])  # a graceful stop: the last answer records are written
            checks[str(tree)] = soap.hub_checks(config_dir, tree)
    report = {
        "machine": soap.machine(),
        "backend": args.backend,
        "operation": args.operation,
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "clients": args.clients,
        "trees": {
            str(tree): {
                "median_per_s": statistics.median(r["per_s"] for r in rs),
                "median_p99_ms": statistics.median(r["p99_ms"] for r in rs),
                "median_hub_cpu_ms": statistics.median(r["hub_cpu_ms"] for r in rs),
                "median_postgresql_cpu_ms": statistics.median(r["postgresql_cpu_ms"] for r in rs),
                "median_idle": round(statistics.median(r["idle"] for r in rs if r["idle"] is not None), 3),
                "rounds": rs,
                "checks": checks[str(tree)],
            }
            for tree, rs in rounds.items()
        },
        "second_faster_in_rounds": sum(
            b["per_s"] > a["per_s"] for a, b in zip(rounds[trees[0]], rounds[trees[1]], strict=True)
        ),
    }
    print(json.dumps(report, indent=2))
    failed = [f"{tree} {name}" for tree, c in checks.items() for name, verdict in c.items() if verdict != "ok"]
    if failed:
        sys.exit(f"failed checks: {', '.join(failed)}")


if __name__ == "__main__":
    main()
