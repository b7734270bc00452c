"""Several bench/soap.py runs read together against issue 18's targets: run by run, and every
round pooled, each hub round against the baseline round measured beside it.

    for i in $(seq 15); do .venv/bin/python bench/soap.py > /tmp/soap-$i.json; done
    .venv/bin/python bench/pooled.py /tmp/soap-*.json

A run's ratio is the median of its rounds' rates over the median of its baseline's
(bench/soap.py's `to_bare_signed`). On a host whose rates drift by about 10% from one round to
the next, that ratio spreads by about 0.05 from one run of four rounds to the next (BENCHMARKS.md
run 34), so a hub that clears a target by less is judged by the drift as much as by its code.
Pooled, the rounds say where the hub stands and how widely: bench/soap.py measures a hub's
round and its baseline's seconds apart (the order reversed every other round), so each round's
ratio is taken against the baseline round of the same number, and their median, quartiles and
the share at the target are printed, with the share of rounds whose p99 is under the target.

Prints JSON: `runs`, each run's ratio, p99 and verdict per target; `runs_met`, in how many runs
each target (and every target at once) was met; `pooled`, the rounds of all runs. A run with an
error in a target's requests meets none of that target. Reads files only: run bench/soap.py
for the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, NamedTuple


class Target(NamedTuple):
    hub: str  # bench/soap.py's key for the hub on a database
    operation: str
    ratio: float  # at least this rate against the bare signed service
    p99_ms: float  # below this


# Issue 18's targets: the rate against the bare signed service (bench/signed_baseline_app.py)
# in the same run, and the p99 latency.
TARGETS = (
    Target("hub_sqlite", "VerifyCoupon", 0.8, 30.0),
    Target("hub_sqlite", "RedeemCoupon", 0.5, 50.0),
    Target("hub_postgresql", "VerifyCoupon", 0.6, 30.0),
    Target("hub_postgresql", "RedeemCoupon", 0.35, 50.0),
)


DATABASES = {"hub_sqlite": "SQLite", "hub_postgresql": "PostgreSQL"}  # a hub's key -> its database's name


def label(target: Target) -> str:
    return f"{DATABASES[target.hub]} {target.operation}"


def run_verdicts(result: dict) -> dict[str, dict]:
    """One bench/soap.py run: each target's ratio, p99 and whether both were met."""
    verdicts = {}
    for target in TARGETS:
        if target.hub not in result:
            continue
        measured = result[target.hub][target.operation]
        ratio = result[target.hub]["to_bare_signed"][target.operation]
        met = measured["errors"] == 0 and ratio >= target.ratio and measured["p99_ms"] < target.p99_ms
        verdicts[label(target)] = {"ratio": ratio, "p99_ms": measured["p99_ms"], "met": met}
    return verdicts


def round_pairs(result: dict, target: Target) -> list[tuple[float, float]]:
    """Each round of a run's hub: its rate's ratio to the baseline round of the same number, and its p99."""
    hub = result[target.hub]
    baseline = result[hub["baselines"][0]][target.operation]  # the bare signed service, as served beside it
    measured = hub[target.operation]
    return [
        (rate / base, p99)
        for rate, base, p99 in zip(
            measured["rounds_per_s"], baseline["rounds_per_s"], measured["rounds_p99_ms"], strict=True
        )
    ]


def pooled(results: list[dict]) -> dict[str, dict]:
    pools = {}
    for target in TARGETS:
        pairs = [pair for result in results if target.hub in result for pair in round_pairs(result, target)]
        if not pairs:
            continue
        ratios = sorted(ratio for ratio, _ in pairs)
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        pools[label(target)] = {
            "rounds": len(pairs),
            "median": round(statistics.median(ratios), 3),
            "quartiles": [round(quartiles[0], 3), round(quartiles[2], 3)],
            "at_target": round(sum(ratio >= target.ratio for ratio in ratios) / len(ratios), 2),
            "p99_under_target": round(sum(p99 < target.p99_ms for _, p99 in pairs) / len(pairs), 2),
            "target": target.ratio,
        }
    return pools


def read(path: Path) -> dict:
    try:
        result = json.loads(path.read_text())
        measured = [round_pairs(result, target) for target in TARGETS if target.hub in result]
        if not measured:
            raise KeyError("no hub measured (hub_sqlite, hub_postgresql)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        sys.exit(f"{path}: not a bench/soap.py result ({type(error).__name__}: {error})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench/soap.py's JSON output, one file a run")
    args = parser.parse_args()
    results = [read(path) for path in args.results]
    runs: list[dict[str, Any]] = [
        {"file": str(path), **run_verdicts(result)} for path, result in zip(args.results, results, strict=True)
    ]
    names = [label(target) for target in TARGETS if any(target.hub in result for result in results)]
    runs_met = {name: sum(run.get(name, {}).get("met", False) for run in runs) for name in names}
    runs_met["every target"] = sum(all(run.get(name, {}).get("met", False) for name in names) for run in runs)
    print(json.dumps({"runs": runs, "runs_met": runs_met, "of_runs": len(runs), "pooled": pooled(results)}, indent=2))


if __name__ == "__main__":
    main()
