"""Mutated SOAP (hypothesis): signed and unsigned requests to /soap/office,
/soap/company and /soap/cashdesk with bytes flipped, inserted or deleted,
elements dropped or duplicated, field text changed and namespaces swapped.
Every answer is a 200 without a fault or a SOAP Fault envelope (never a bare
HTTP 500, never a hang), and a refused message changes nothing."""

from __future__ import annotations

import copy
import os
import urllib.error
import urllib.request
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from hub import ns
from hub.audit.messagelog import MessageLog
from hub.cashdesk.models import Payment
from hub.coupons.models import Coupon, CouponBatch, Redemption
from hub.ledger.models import LedgerTransfer
from hub.signing.sign import sign_envelope
from tests.support.cashdesk import payment_fields
from tests.support.factories import funded_company, issue
from tests.support.soap import CLIENT_ID, MY_NIP

SOAP = f"{{{ns.SOAP_ENV_11}}}"
FAULT = f"{SOAP}Body/{SOAP}Fault"
NAMESPACES = [
    ns.SOAP_ENV_11,
    ns.OFFICE,
    ns.COMPANY,
    ns.CASHDESK,
    ns.COMMON,
    ns.WSSE,
    ns.WSU,
    ns.DS,
    "",
    "urn:x",
    "http://www.w3.org/2003/05/soap-envelope",
]
TIMEOUT = 20
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "60"))  # per endpoint and database; raise it for a deeper run


def envelope(namespace: str, operation: str, fields: list[tuple[str, object]]) -> etree._Element:
    """<operation>Request in `namespace`; a value that is a list of pairs nests."""
    root = etree.Element(SOAP + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "m": namespace})
    etree.SubElement(root, SOAP + "Header")
    request = etree.SubElement(etree.SubElement(root, SOAP + "Body"), f"{{{namespace}}}{operation}Request")

    def fill(parent, pairs):
        for name, value in pairs:
            child = etree.SubElement(parent, f"{{{namespace}}}{name}")
            if isinstance(value, list):
                fill(child, value)
            else:
                child.text = str(value)

    fill(request, fields)
    return root


def rid() -> str:
    return str(uuid.uuid4())


def office_requests(coupon: str) -> list:
    return [
        ("pojazd-1465", lambda: envelope(ns.OFFICE, "VerifyCoupon", [("CouponId", coupon), ("OfficeCode", "1465")])),
        (
            "pojazd-1465",
            lambda: envelope(
                ns.OFFICE,
                "RedeemCoupon",
                [
                    ("RequestId", rid()),
                    ("CouponId", coupon),
                    ("OfficeCode", "1465"),
                    ("CaseNumber", "WK.5410.7.2026"),
                    ("CaseType", "REJ_NEW"),
                ],
            ),
        ),
    ]


def company_requests(coupon: str) -> list:
    return [
        (CLIENT_ID, lambda: envelope(ns.COMPANY, "GetAccount", [("CompanyNip", MY_NIP)])),
        (
            CLIENT_ID,
            lambda: envelope(
                ns.COMPANY,
                "IssueCoupons",
                [("RequestId", rid()), ("CompanyNip", MY_NIP), ("CaseType", "REJ_NEW"), ("Count", "1")],
            ),
        ),
        (CLIENT_ID, lambda: envelope(ns.COMPANY, "CancelCoupon", [("RequestId", rid()), ("CouponId", coupon)])),
    ]


def cashdesk_requests(coupon: str) -> list:
    return [("kasa-1465-01", lambda: envelope(ns.CASHDESK, "RegisterPayment", payment_fields()))]


ENDPOINTS = {"office": office_requests, "company": company_requests, "cashdesk": cashdesk_requests}

xml_text = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1001",
            "99999999999999999999",
            "1e3",
            "0.001",
            "-0.01",
            "161.50",
            "NaN",
            "REJ_NEW",
            "1465",
            "1261",
            "7010254361",
            "5260250274",
            "0Z0Z-0Z0Z-0Z0Z-0Z0Z",
            "2026-02-30",
            "<x/>",
            "&amp;",
            "]]>",
            "Ą" * 300,
            "x" * 5000,
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)


@st.composite
def tree_mutation(draw, root: etree._Element) -> etree._Element:
    kind = draw(st.sampled_from(["drop", "duplicate", "text", "namespace", "attribute"]))
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    if kind in ("drop", "duplicate"):
        elements = elements[1:]  # not the root: it has no parent to lose it from
    elif kind == "attribute":
        elements = [e for e in elements if e.attrib] or elements
    target = elements[draw(st.integers(0, len(elements) - 1))]
    parent = target.getparent()
    if kind == "drop" and parent is not None:
        parent.remove(target)
    elif kind == "duplicate" and parent is not None:
        parent.insert(parent.index(target) + 1, copy.deepcopy(target))
    elif kind == "text":
        target.text = draw(xml_text)
    elif kind == "namespace":
        local = etree.QName(target).localname
        namespace = draw(st.sampled_from(NAMESPACES))
        target.tag = f"{{{namespace}}}{local}" if namespace else local
    elif kind == "attribute" and target.attrib:
        name = draw(st.sampled_from(sorted(target.attrib)))
        if draw(st.booleans()):
            del target.attrib[name]
        else:
            target.set(name, draw(xml_text))
    return root


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=8)
                | st.sampled_from([b"<", b">", b"&", b'"', b"<!DOCTYPE x>", b"\x00", b"\xff\xfe"])
            )
        elif data:
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def snapshot(hub) -> tuple:
    with hub.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(LedgerTransfer)),
            tuple(s.execute(select(Coupon.id, Coupon.status).order_by(Coupon.id)).all()),
            s.scalar(select(func.count()).select_from(CouponBatch)),
            s.scalar(select(func.count()).select_from(Redemption)),
            s.scalar(select(func.count()).select_from(Payment)),
        )


@pytest.fixture
def fuzz_hub(running_hub):
    hub = running_hub.hub
    funded_company(hub, 500_00)
    funded_company(hub, 100_000_00, nip=MY_NIP, name="Łódź Leasing Spółka z o.o.")
    office_coupon = issue(hub, 1).coupons[0].coupon_id
    company_coupon = issue(hub, 1, nip=MY_NIP).coupons[0].coupon_id
    return running_hub, office_coupon, company_coupon


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_mutated_messages_get_an_answer_or_a_fault_and_refusals_change_nothing(fuzz_hub, endpoint):
    running_hub, office_coupon, company_coupon = fuzz_hub
    hub = running_hub.hub
    requests = ENDPOINTS[endpoint](office_coupon if endpoint == "office" else company_coupon)
    url = f"{running_hub.url}/soap/{endpoint}"
    identities = {client: running_hub.identity(client) for client, _ in requests}
    state = {"before": snapshot(hub)}
    seen: list[tuple[str, int]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        client, build = requests[data.draw(st.integers(0, len(requests) - 1), label="request")]
        stage = data.draw(
            st.sampled_from(["tree then sign", "sign then tree", "sign then bytes", "unsigned tree", "unsigned bytes"]),
            label="stage",
        )
        root = build()
        if stage == "tree then sign":
            mutated = data.draw(tree_mutation(root))
            try:
                body = etree.tostring(sign_envelope(mutated, identities[client]))
            except ValueError:  # no Body or Header left to sign: sent as it is
                body = etree.tostring(mutated)
        elif stage == "sign then tree":
            body = etree.tostring(data.draw(tree_mutation(sign_envelope(root, identities[client]))))
        elif stage == "sign then bytes":
            body = data.draw(byte_mutation(etree.tostring(sign_envelope(root, identities[client]))))
        elif stage == "unsigned tree":
            body = etree.tostring(data.draw(tree_mutation(root)))
        else:
            body = data.draw(byte_mutation(etree.tostring(root)))

        status, answer = post(url, body)
        seen.append((stage, status))
        try:
            parsed = etree.fromstring(answer)
        except etree.XMLSyntaxError as e:
            raise AssertionError(f"HTTP {status}, not XML ({e}): {answer[:300]!r} for {body[:2000]!r}") from None
        assert etree.QName(parsed).text == SOAP + "Envelope", (status, answer[:500], body[:2000])
        fault = parsed.find(FAULT)
        if status == 200:
            assert fault is None, (answer[:1000], body[:2000])
            state["before"] = snapshot(hub)  # accepted: whatever it did is the new normal
        else:
            assert fault is not None, f"HTTP {status} without a soap:Fault: {answer[:500]!r} for {body[:2000]!r}"
            assert status in (400, 403, 413, 415, 500), status
            text = fault.findtext("faultstring") or ""
            assert text and "Traceback" not in text, text
            assert snapshot(hub) == state["before"], f"refused ({text}) but state changed: {body[:2000]!r}"
        report = MessageLog(hub.db).verify()
        assert report.ok, report

    run()
    assert any(status != 200 for _, status in seen), "no example was refused: the mutations did nothing"
