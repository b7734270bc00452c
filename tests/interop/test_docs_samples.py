"""The signed exchanges of docs/integration/samples: one request and answer for every
OfficeService and CashDeskService operation, produced here (xmlsec1 signs each request as an
office system's stack would lay it out, the hub answers over HTTP) and verified with xmlsec1.

The committed files must verify with xmlsec1 (request: the client's dev certificate; answer:
the hub's), their payloads must validate against the published XSD, and a fresh run must give
the same document shape (elements and attributes; values such as ids and times differ run to
run). When the contract changes on purpose, rewrite the samples:

    HUB_WRITE_SAMPLES=1 .venv/bin/python -m pytest -q tests/interop/test_docs_samples.py -k sqlite
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from hub import ns
from hub.services.endpoint import contract_schema
from tests.support.cashdesk import add_user, payment_fields
from tests.support.factories import funded_company, issue
from tests.support.xmlsec1 import signed_by_xmlsec1, xmlsec1_verifies

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs" / "integration" / "samples"
KEYS = ROOT / "config" / "keys"
SOAP = f"{{{ns.SOAP_ENV_11}}}"
SERVICES = {
    "office": (ns.OFFICE, "/soap/office", "pojazd-1465"),
    "cashdesk": (ns.CASHDESK, "/soap/cashdesk", "kasa-1465-01"),
}
# In the order they run: each may use what an earlier answer returned.
EXCHANGES = [
    ("office", "VerifyCoupon"), ("office", "RedeemCoupon"), ("office", "ReverseRedemption"),
    ("cashdesk", "RegisterPayment"), ("cashdesk", "VoidPayment"), ("office", "VerifyPayment"),
    ("cashdesk", "GetReceiptPdf"), ("cashdesk", "CloseDay"),
]  # fmt: skip
NAMES = [f"{service}-{operation}" for service, operation in EXCHANGES]


def request_fields(operation: str, seen: dict) -> list:
    """The request's fields in contract order; (name, [fields]) for an element with children."""
    rid = ("RequestId", str(uuid.uuid4()))
    return {
        "VerifyCoupon": lambda: [("CouponId", seen["coupon"]), ("OfficeCode", "1465"), ("CaseType", "REJ_NEW")],
        "RedeemCoupon": lambda: [
            rid,
            ("CouponId", seen["coupon"]),
            ("OfficeCode", "1465"),
            ("CaseNumber", "WK.5410.7.2026"),
            ("CaseType", "REJ_NEW"),
            ("Amount", "161.50"),
        ],
        "ReverseRedemption": lambda: [
            rid,
            ("RedemptionId", seen["RedemptionId"]),
            ("OfficeCode", "1465"),
            ("Reason", "Pomyłka w numerze sprawy"),
        ],
        "RegisterPayment": lambda: payment_fields(CaseNumber="WK.5410.12.2026"),
        "VoidPayment": lambda: [
            rid,
            ("PaymentId", seen["voided"]),
            ("Reason", "Błędna kwota"),
            ("Supervisor", "jan.kowalski"),
        ],
        "VerifyPayment": lambda: [("System", "POJAZD"), ("OfficeCode", "1465"), ("CaseNumber", "WK.5410.12.2026")],
        "GetReceiptPdf": lambda: [("PaymentId", seen["PaymentId"])],
        "CloseDay": lambda: [
            rid,
            ("OfficeCode", "1465"),
            ("DeskId", "01"),
            ("Date", datetime.now(ZoneInfo("Europe/Warsaw")).date().isoformat()),
        ],
    }[operation]()


def envelope(namespace: str, operation: str, fields: list) -> etree._Element:
    root = etree.Element(SOAP + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "h": namespace})
    etree.SubElement(root, SOAP + "Header")
    _fill(
        etree.SubElement(etree.SubElement(root, SOAP + "Body"), f"{{{namespace}}}{operation}Request"), namespace, fields
    )
    etree.indent(root)  # readable samples: the whitespace is signed like the rest
    return root


def _fill(parent, namespace, fields):
    for name, value in fields:
        child = etree.SubElement(parent, f"{{{namespace}}}{name}")
        if isinstance(value, list):
            _fill(child, namespace, value)
        else:
            child.text = value


def shape(document: etree._Element) -> list:
    """Element names and attribute names in document order: what must not drift."""
    return [(e.tag, sorted(e.attrib)) for e in document.iter(etree.Element)]


def payload(document: etree._Element) -> etree._Element:
    return [c for c in document.find(f"{SOAP}Body") if isinstance(c.tag, str)][0]


@pytest.fixture
def exchanges(running_hub):
    """Every exchange of EXCHANGES, run now: {name: (request bytes, answer bytes)}."""
    funded_company(running_hub.hub, 500_00)
    add_user(running_hub.hub, "jan.kowalski")  # the supervisor who voids a payment
    seen = {"coupon": issue(running_hub.hub, 1).coupons[0].coupon_id}
    made = {}
    for service, operation in EXCHANGES:
        namespace, path, client = SERVICES[service]
        if (service, operation) == ("cashdesk", "VoidPayment"):  # void a second payment, keep the first
            seen["voided"] = _send(running_hub, "cashdesk", "RegisterPayment", request_fields("RegisterPayment", seen))[
                1
            ].findtext(f".//{{{ns.CASHDESK}}}PaymentId")
        request, answer = _send(running_hub, service, operation, request_fields(operation, seen))
        for name in ("RedemptionId", "PaymentId"):
            found = answer.findtext(f".//{{{namespace}}}{name}")
            if found is not None:
                seen.setdefault(name, found)
        made[f"{service}-{operation}"] = (request, etree.tostring(answer, xml_declaration=True, encoding="UTF-8"))
    return made


def _send(running_hub, service, operation, fields):
    namespace, path, client = SERVICES[service]
    request = signed_by_xmlsec1(
        envelope(namespace, operation, fields), KEYS / f"{client}.key", running_hub.identity(client).cert
    )
    status, answer = running_hub.post(request, path)
    assert status == 200, answer.findtext(f".//{SOAP}Fault/faultstring")
    return request, answer


def test_samples_are_current_and_verify_with_xmlsec1(exchanges):
    if os.environ.get("HUB_WRITE_SAMPLES") == "1":
        SAMPLES.mkdir(parents=True, exist_ok=True)
        for name, (request, answer) in exchanges.items():
            (SAMPLES / f"{name}-request.xml").write_bytes(request)
            (SAMPLES / f"{name}-answer.xml").write_bytes(answer)
    for name, (request, answer) in exchanges.items():
        service = name.split("-")[0]
        client = SERVICES[service][2]
        for kind, fresh, cert in (("request", request, KEYS / f"{client}.crt"), ("answer", answer, KEYS / "hub.crt")):
            committed_path = SAMPLES / f"{name}-{kind}.xml"
            assert committed_path.exists(), f"{committed_path} is missing; see this module's docstring"
            committed = committed_path.read_bytes()
            ok, report = xmlsec1_verifies(committed, cert)
            assert ok, f"{committed_path}: {report}"
            assert xmlsec1_verifies(fresh, cert)[0]
            assert shape(etree.fromstring(committed)) == shape(etree.fromstring(fresh)), (
                f"{committed_path} is stale; see this module's docstring"
            )
            contract_schema(service).assertValid(payload(etree.fromstring(committed)))


def test_the_samples_folder_holds_exactly_these_exchanges():
    expected = {f"{name}-{kind}.xml" for name in NAMES for kind in ("request", "answer")}
    assert {p.name for p in SAMPLES.glob("*.xml")} == expected
