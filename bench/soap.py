"""Signed SOAP throughput and latency: VerifyCoupon and RedeemCoupon against the hub
under gunicorn, with an unsigned minimal spyne service (bench/baseline_app.py) on the
same server settings as the baseline, measured in the same run.

    .venv/bin/python bench/soap.py --backend sqlite
    .venv/bin/python bench/soap.py --backend postgresql

Requests are signed before the clock starts (each with its own Timestamp, so the
hub's replay cache accepts every one), so the clients measure the server, not
their own signing. Every answer is checked: HTTP 200 and no Fault, else an error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from lxml import etree  # noqa: E402

from hub import ns  # noqa: E402
from hub.access import operator  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402
from hub.signing.sign import sign_envelope  # noqa: E402

NIP = "7010254361"  # the shipped config's COMPANY client
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def database(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return "sqlite:///var/hub.sqlite3", lambda: None
    from sqlalchemy import create_engine, text

    name = f"hub_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def prepare(config_dir: Path, coupons_needed: int) -> list[str]:
    from hub.app import Hub
    from hub.config import load_config
    from hub.db.migrate import upgrade

    hub = Hub(load_config(config_dir))
    try:
        upgrade(hub.db)
        hub.companies.add(NIP, "Bench Leasing sp. z o.o.", actor=operator("bench"))
        hub.companies.credit(
            NIP,
            161_50 * 1000 * (coupons_needed // 1000 + 1),
            "bench funding",
            actor=operator("bench"),
        )
        ids: list[str] = []
        while len(ids) < coupons_needed:
            batch = hub.coupons.issue(
                request_id=str(uuid.uuid4()),
                company_nip=NIP,
                case_type="REJ_NEW",
                count=1000,
                actor=operator("bench"),
            )
            ids += [c.coupon_id for c in batch.coupons]
        return ids[:coupons_needed]
    finally:
        hub.close()


def envelope(operation: str, fields: dict) -> etree._Element:
    soap, o = f"{{{ns.SOAP_ENV_11}}}", f"{{{ns.OFFICE}}}"
    env = etree.Element(soap + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "o": ns.OFFICE})
    etree.SubElement(env, soap + "Header")
    request = etree.SubElement(etree.SubElement(env, soap + "Body"), o + operation + "Request")
    for name, value in fields.items():
        etree.SubElement(request, o + name).text = value
    return env


def wait_up(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def load(port: int, path: str, action: str, bodies: list[bytes], clients: int) -> dict:
    """Send every body once, from `clients` threads; latency per request, errors counted."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            start = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    path,
                    bodies[i],
                    {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
                )
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200 and b"Fault>" not in data
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                ok, data = False, repr(e).encode()
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors.append(data[:300].decode(errors="replace"))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(bodies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "per_s": round(len(bodies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
    }


def crypto_floor(identity: SigningIdentity, rounds: int = 300) -> dict:
    """One RSA-2048 signature plus one verification, the floor of a signed exchange."""
    key, public = identity.private_key, identity.cert.public_key()
    data = b"x" * 32
    start = time.perf_counter()
    for _ in range(rounds):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    each = (time.perf_counter() - start) / rounds
    return {"sign_plus_verify_ms": round(each * 1000, 3), "max_per_s_per_core": round(1 / each, 1)}


def start(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from hub.cli.demo import SHIPPED_CONFIG, copy_config

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    url, drop = database(args.backend, workdir)
    procs: list[subprocess.Popen] = []
    try:
        config_dir = copy_config(SHIPPED_CONFIG, workdir / "config", url)
        coupons = prepare(config_dir, args.requests + 100)
        hub_port, base_port = 8311, 8312
        procs.append(
            start(
                [
                    str(REPO / ".venv/bin/hub"),
                    "--config",
                    str(config_dir),
                    "serve",
                    "--port",
                    str(hub_port),
                    "--workers",
                    str(args.workers),
                ]
            )
        )
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    str(args.workers),
                    "-b",
                    f"127.0.0.1:{base_port}",
                    "--access-logfile",
                    "-",
                    "bench.baseline_app:app",
                ]
            )
        )
        wait_up(f"http://127.0.0.1:{hub_port}/soap/office?wsdl")
        wait_up(f"http://127.0.0.1:{base_port}/?wsdl")

        identity = SigningIdentity.load(
            config_dir / "keys/pojazd-1465.key", config_dir / "keys/pojazd-1465.crt"
        )

        def signed(op: str, fields: dict) -> bytes:
            return etree.tostring(sign_envelope(envelope(op, fields), identity, ttl_s=600))

        n = args.requests
        t0 = time.perf_counter()
        verify = [
            signed("VerifyCoupon", {"CouponId": coupons[i % len(coupons)], "OfficeCode": "1465"})
            for i in range(n + 100)
        ]
        redeem = [
            signed(
                "RedeemCoupon",
                {
                    "RequestId": str(uuid.uuid4()),
                    "CouponId": c,
                    "OfficeCode": "1465",
                    "CaseNumber": f"WK.{i}",
                    "CaseType": "REJ_NEW",
                },
            )
            for i, c in enumerate(coupons[:n])
        ]
        signing_s = time.perf_counter() - t0
        unsigned = [
            etree.tostring(
                envelope(
                    "VerifyCoupon", {"CouponId": coupons[i % len(coupons)], "OfficeCode": "1465"}
                )
            )
            for i in range(n + 100)
        ]

        load(
            hub_port, "/soap/office", f"{ns.OFFICE}#VerifyCoupon", verify[:100], args.clients
        )  # warm up
        load(base_port, "/", "VerifyCoupon", unsigned[:100], args.clients)
        results = {
            "machine": machine(),
            "backend": args.backend,
            "clients": args.clients,
            "workers": args.workers,
            "client_signing_ms_each": round(signing_s * 1000 / (2 * n + 100), 2),
            "crypto_floor": crypto_floor(identity),
            "baseline_unsigned_verify": load(
                base_port, "/", "VerifyCoupon", unsigned[100:], args.clients
            ),
            "hub_signed_verify": load(
                hub_port, "/soap/office", f"{ns.OFFICE}#VerifyCoupon", verify[100:], args.clients
            ),
            "hub_signed_redeem": load(
                hub_port, "/soap/office", f"{ns.OFFICE}#RedeemCoupon", redeem, args.clients
            ),
        }
        base = results["baseline_unsigned_verify"]["per_s"]
        results["ratio_verify_to_baseline"] = round(results["hub_signed_verify"]["per_s"] / base, 3)
        results["ratio_redeem_to_baseline"] = round(results["hub_signed_redeem"]["per_s"] / base, 3)
        print(json.dumps(results, indent=2))
    finally:
        clean_up(procs, drop, workdir)


def clean_up(procs: list[subprocess.Popen], drop: callable, workdir: Path) -> None:
    """Stop the servers (their whole process groups), drop the database, remove the files."""
    for p in procs:
        try:
            os.killpg(p.pid, 15)
            p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(p.pid, 9)
    drop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
