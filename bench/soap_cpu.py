"""CPU per signed SOAP request, in-process: the hub's WSGI application called directly
(no HTTP, no gunicorn, no other clients), so the number is the work the hub does per
request and stays comparable on a busy machine, where throughput runs do not.

    .venv/bin/python bench/soap_cpu.py                       # sqlite and postgresql
    .venv/bin/python bench/soap_cpu.py --backend sqlite --requests 500

The hub runs as a `hub serve` worker runs it: JSON log lines at INFO (to /dev/null here),
metrics counted in multiprocess files, the loaded app frozen out of the garbage collector's
sight. Prints JSON: CPU ms per request (time.process_time, this process only; PostgreSQL's
own work is in its server process and not counted) for signed VerifyCoupon and
RedeemCoupon, for bench/baseline_app.py's unsigned VerifyCoupon and the bare signed
baseline's (bench/signed_baseline_app.py) as baselines, and for the signature work alone
(verify a request, sign an answer).
Every answer is checked (200 and no Fault, else the run stops), and the message log's
hash chain after the run.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402

from bench.child import add_backend_option, chosen_backends  # noqa: E402
from bench.soap import Requests, envelope, prepared_hub  # noqa: E402
from hub import ns  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402
from hub.signing.sign import sign_envelope  # noqa: E402


def environ(path: str, action: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "SCRIPT_NAME": "",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "HTTP_SOAPACTION": action,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def cpu_ms(app, path: str, action: str, bodies: list[bytes]) -> dict:
    """Call `app` once per body: CPU ms per call, mean and median (the median leaves out
    the odd call another process on the machine slowed), and the mean's share of Python's
    garbage collector. Any non-200 answer or Fault stops the run."""
    statuses: list[str] = []
    each: list[float] = []
    collecting = [0.0, 0.0]  # started at, total

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def garbage_collection(phase, info):
        if phase == "start":
            collecting[0] = time.process_time()
        else:
            collecting[1] += time.process_time() - collecting[0]

    gc.callbacks.append(garbage_collection)
    try:
        for body in bodies:
            start = time.process_time()
            answer = b"".join(app(environ(path, action, body), start_response))
            each.append(time.process_time() - start)
            if not statuses[-1].startswith("200") or b"Fault>" in answer:
                raise RuntimeError(f"{path} answered {statuses[-1]}: {answer[:400]!r}")
    finally:
        gc.callbacks.remove(garbage_collection)
    return {
        "mean": round(sum(each) * 1000 / len(each), 3),
        "median": round(statistics.median(each) * 1000, 3),
        "of_it_gc": round(collecting[1] * 1000 / len(each), 3),
    }


@contextmanager
def served_in_process(backend: str, coupons_count: int, prefix: str) -> Iterator[tuple[Any, Requests, list[str]]]:
    """The hub's WSGI application, as a `hub serve` worker runs it (JSON log lines at INFO,
    written to /dev/null here; metrics counted in multiprocess files; the loaded app frozen out
    of the garbage collector's sight), on a prepared database with `coupons_count` coupons:
    (app, requests signed as Pojazd of office 1465, the coupons). Closed at the end."""
    from hub.app import create_app
    from hub.config import load_config
    from hub.ops import metrics
    from hub.ops.logging import configure_logging

    with prepared_hub(backend, coupons_count, prefix) as (config_dir, coupons):
        identity = SigningIdentity.load(config_dir / "keys/pojazd-1465.key", config_dir / "keys/pojazd-1465.crt")
        requests = Requests(identity, ttl_s=3600)
        configure_logging("INFO")
        metrics.enable_multiprocess(config_dir.parent / "metrics")
        app = create_app(load_config(config_dir))
        gc.freeze()  # as `hub serve` does once a worker has loaded the app
        stderr, sys.stderr = (sys.stderr, open(os.devnull, "w"))  # the JSON log lines are written, and dropped
        try:
            yield app, requests, coupons
        finally:
            sys.stderr.close()
            sys.stderr = stderr
            gc.unfreeze()
            app.hub.close()


def run_backend(backend: str, n: int, warmup: int) -> dict:
    with served_in_process(backend, n + warmup, "hub-soapcpu-") as (app, requests, coupons):
        verify, redeem = requests.verify(coupons, n + warmup), requests.redeem(coupons)
        path = "/soap/office"
        cpu_ms(app, path, f"{ns.OFFICE}#VerifyCoupon", verify[:warmup])
        cpu_ms(app, path, f"{ns.OFFICE}#RedeemCoupon", redeem[:warmup])
        result = {
            "verify_cpu_ms": cpu_ms(app, path, f"{ns.OFFICE}#VerifyCoupon", verify[warmup:]),
            "redeem_cpu_ms": cpu_ms(app, path, f"{ns.OFFICE}#RedeemCoupon", redeem[warmup:]),
        }
        app.hub.answer_records.flush()  # the last reads' answer records (hub.services.group_commit)
        chain = app.endpoints[path].message_log.verify()
        if not chain.ok or chain.records != 4 * (n + warmup):
            raise RuntimeError(f"message log after the run: {chain}")
        return result


def baseline(n: int, warmup: int) -> dict:
    from bench.baseline_app import app

    bodies = [
        etree.tostring(envelope("VerifyCoupon", {"CouponId": f"C{i}", "OfficeCode": "1465"})) for i in range(n + warmup)
    ]
    cpu_ms(app, "/", "VerifyCoupon", bodies[:warmup])
    return cpu_ms(app, "/", "VerifyCoupon", bodies[warmup:])


def bare_signed_requests(count: int) -> list[bytes]:
    """`count` VerifyCoupon requests for bench/signed_baseline_app.py, signed as Pojazd of office 1465."""
    identity = SigningIdentity.load(REPO / "config/keys/pojazd-1465.key", REPO / "config/keys/pojazd-1465.crt")
    return [
        etree.tostring(
            sign_envelope(envelope("VerifyCoupon", {"CouponId": f"C{i}", "OfficeCode": "1465"}), identity, ttl_s=3600)
        )
        for i in range(count)
    ]


def signed_baseline(n: int, warmup: int) -> dict:
    """bench/signed_baseline_app.py in-process: strict verification, spyne, RSA-2048 signing."""
    from bench.signed_baseline_app import app

    bodies = bare_signed_requests(n + warmup)
    cpu_ms(app, "/", "VerifyCoupon", bodies[:warmup])
    return cpu_ms(app, "/", "VerifyCoupon", bodies[warmup:])


def signature_work(n: int, warmup: int) -> dict:
    """The signature work of one exchange alone: `verify_envelope` of a signed request (parsed
    by hub.xmlsafe) and `sign_envelope` of an answer, serialised; CPU ms each, median."""
    from datetime import UTC, datetime

    from hub.signing.policy import SignaturePolicy
    from hub.signing.trust import TrustedClient, TrustStore
    from hub.signing.verify import DeferredReplay, verify_envelope
    from hub.xmlsafe import parse_xml

    keys = REPO / "config/keys"
    client = SigningIdentity.load(keys / "pojazd-1465.key", keys / "pojazd-1465.crt")
    hub = SigningIdentity.load(keys / "hub.key", keys / "hub.crt")
    trust = TrustStore([TrustedClient(id="pojazd-1465", kind="POJAZD", cert=client.cert)])
    requests = [
        etree.tostring(
            sign_envelope(
                envelope("VerifyCoupon", {"CouponId": f"C{i:010d}", "OfficeCode": "1465"}), client, ttl_s=3600
            )
        )
        for i in range(n + warmup)
    ]
    answer = envelope("VerifyCouponResponse", {"CouponId": "C1", "Valid": "true"})
    verify_s: list[float] = []
    sign_s: list[float] = []
    for raw in requests:
        start = time.process_time()
        request = parse_xml(raw, bytes_max=1_000_000, depth_max=64)
        verify_envelope(request, trust, SignaturePolicy(), DeferredReplay(), datetime.now(UTC))
        middle = time.process_time()
        signed = sign_envelope(etree.fromstring(etree.tostring(answer)), hub)
        etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
        verify_s.append(middle - start)
        sign_s.append(time.process_time() - middle)
    verify_s, sign_s = verify_s[warmup:], sign_s[warmup:]
    return {
        "verify_median": round(statistics.median(verify_s) * 1000, 3),
        "sign_median": round(statistics.median(sign_s) * 1000, 3),
        "both_median": round(statistics.median([a + b for a, b in zip(verify_s, sign_s, strict=True)]) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    backends = chosen_backends(args.backend)
    results: dict = {
        "requests": args.requests,
        "signature_work_cpu_ms": signature_work(args.requests, args.warmup),
        "baseline_unsigned_verify_cpu_ms": baseline(args.requests, args.warmup),
        "bare_signed_verify_cpu_ms": signed_baseline(args.requests, args.warmup),
    }
    base = results["baseline_unsigned_verify_cpu_ms"]["median"]
    for backend in backends:
        results[backend] = run_backend(backend, args.requests, args.warmup)
        for op in ("verify", "redeem"):
            results[backend][f"{op}_to_baseline_median"] = round(results[backend][f"{op}_cpu_ms"]["median"] / base, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
