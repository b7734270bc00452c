"""What the threaded worker model costs: signed VerifyCoupon throughput against `hub serve
--worker-class sync` (the old model) and `--worker-class gthread` (the default, which keeps
serving while slow clients trickle their bodies), in the same run, alternating rounds.

    .venv/bin/python bench/workers.py --backend sqlite [--rounds 2] [--requests 1500]

The load comes from wrk -t1 -c`--clients` (bench/soap.py's load), each signed body sent once.
Every answer is checked (HTTP 200, no Fault). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402

from bench.soap import clean_up, database, envelope, load, machine, need_wrk, prepare, start, wait_up  # noqa: E402
from hub import ns  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402
from hub.signing.sign import sign_envelope  # noqa: E402

MODELS = ("sync", "gthread")


def free_port() -> int:
    """A port free a moment ago (the tests no longer pick ports so; a benchmark run alone may)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1500, help="per round and model")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    need_wrk()

    from hub.cli.demo import SHIPPED_CONFIG, copy_config

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-workers-"))
    url, drop = database(args.backend, workdir)
    procs: dict[str, subprocess.Popen] = {}
    try:
        config_dir = copy_config(SHIPPED_CONFIG, workdir / "config", url)
        coupons = prepare(config_dir, 1000)
        ports = {model: free_port() for model in MODELS}
        for model in MODELS:
            procs[model] = start(
                [
                    str(REPO / ".venv/bin/hub"),
                    "--config",
                    str(config_dir),
                    "serve",
                    "--port",
                    str(ports[model]),
                    "--workers",
                    str(args.workers),
                    "--threads",
                    str(args.threads),
                    "--worker-class",
                    model,
                ]
            )
            wait_up(f"http://127.0.0.1:{ports[model]}/soap/office?wsdl")
        identity = SigningIdentity.load(config_dir / "keys/pojazd-1465.key", config_dir / "keys/pojazd-1465.crt")

        def bodies(n: int) -> list[bytes]:  # fresh signatures each time: the replay cache accepts every one
            return [
                etree.tostring(
                    sign_envelope(
                        envelope("VerifyCoupon", {"CouponId": coupons[i % len(coupons)], "OfficeCode": "1465"}),
                        identity,
                        ttl_s=600,
                    )
                )
                for i in range(n)
            ]

        action = f"{ns.OFFICE}#VerifyCoupon"
        for model in MODELS:
            load(ports[model], "/soap/office", action, bodies(100), args.clients)  # warm up
        rounds: dict[str, list[dict]] = {model: [] for model in MODELS}
        for _ in range(args.rounds):
            for model in MODELS:
                signed = bodies(args.requests)
                time.sleep(1)
                rounds[model].append(load(ports[model], "/soap/office", action, signed, args.clients))
        results = {
            "machine": machine(),
            "backend": args.backend,
            "clients": args.clients,
            "workers": args.workers,
            "threads": args.threads,
            "rounds": rounds,
            "median_per_s": {model: statistics.median(r["per_s"] for r in rounds[model]) for model in MODELS},
        }
        results["gthread_to_sync"] = round(results["median_per_s"]["gthread"] / results["median_per_s"]["sync"], 3)
        print(json.dumps(results, indent=2))
    finally:
        clean_up(list(procs.values()), drop, workdir)


if __name__ == "__main__":
    main()
