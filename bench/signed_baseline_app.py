"""The bare signed baseline for bench/soap.py (issue 18 point 6): bench/baseline_app.py's
minimal spyne service behind the hub's own WS-Security, and nothing else. Each request is
parsed by hub.xmlsafe, verified strictly by `verify_envelope` (the shipped config's
pojazd-1465 certificate pinned, a per-process replay cache), its verified Body handed to
spyne, and the answer signed with the hub's RSA-2048 key by `sign_envelope`. No database,
no message log, no XSD validation beyond spyne's: what is left of the hub is what a signed
SOAP service costs at the least, so hub/this is the share of the hub's own work.

    gunicorn -k gthread -w 2 --threads 4 --worker-connections 4 --keep-alive 0 \
        -b 127.0.0.1:8302 bench.signed_baseline_app:app
"""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from bench.baseline_app import app as spyne_app
from hub import ns
from hub.signing.faults import SecurityFault
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.sign import sign_envelope
from hub.signing.trust import TrustedClient, TrustStore
from hub.signing.verify import MemoryReplayCache, verify_envelope
from hub.xmlsafe import parse_xml

KEYS = Path(__file__).resolve().parent.parent / "config" / "keys"
BYTES_MAX, DEPTH_MAX = 1_000_000, 64
IDENTITY = SigningIdentity.load(KEYS / "hub.key", KEYS / "hub.crt")
TRUST = TrustStore(
    [
        TrustedClient(
            id="pojazd-1465",
            kind="POJAZD",
            cert=SigningIdentity.load(KEYS / "pojazd-1465.key", KEYS / "pojazd-1465.crt").cert,
        )
    ]
)
POLICY = SignaturePolicy()
REPLAY = MemoryReplayCache()


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] != "POST":  # ?wsdl: spyne's own
        return spyne_app(environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = parse_xml(environ["wsgi.input"].read(length), bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)
    try:
        verified = verify_envelope(request, TRUST, POLICY, REPLAY, datetime.now(UTC))
    except SecurityFault as fault:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"Fault> {fault.code}: {fault.message}".encode()]
    envelope = etree.Element(f"{{{ns.SOAP_ENV_11}}}Envelope", nsmap={"soap": ns.SOAP_ENV_11})
    envelope.append(verified.body)
    data = etree.tostring(envelope)
    statuses: list[str] = []
    answer = b"".join(
        spyne_app(
            {**environ, "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))},
            lambda status, headers, exc_info=None: statuses.append(status),
        )
    )
    response = parse_xml(answer, bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)
    body = etree.tostring(sign_envelope(response, IDENTITY), xml_declaration=True, encoding="UTF-8")
    start_response(statuses[0], [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


gc.freeze()  # the keys and the trust store too (bench/baseline_app.py)
