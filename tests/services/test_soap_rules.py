"""SOAP 1.1 processing rules over real HTTP: a header the hub does not process marked
mustUnderstand gets soap:MustUnderstand, a SOAP 1.2 envelope soap:VersionMismatch; both
answers are signed and kept in the message log, and nothing changes. Each service's WSDL
names the address it is served at."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import zeep
from lxml import etree
from sqlalchemy import select

from hub import ns
from hub.audit.messagelog import REQUEST, RESPONSE, MessageRecord
from hub.signing import MemoryReplayCache, SignaturePolicy, TrustedClient, TrustStore, sign_envelope, verify_envelope
from hub.xmlsafe import parse_xml
from tests.support.factories import OPERATOR
from tests.support.soap import fault_of, office_request, redeem_fields

SOAP = f"{{{ns.SOAP_ENV_11}}}"
SOAP_12 = "http://www.w3.org/2003/05/soap-envelope"


def with_header(running_hub, coupon, block: str) -> bytes:
    message = office_request("RedeemCoupon", **redeem_fields(coupon))
    message.find(f"{SOAP}Header").append(etree.fromstring(block))
    return etree.tostring(sign_envelope(message, running_hub.identity("pojazd-1465")))


def signed_by_the_hub(running_hub, answer: etree._Element) -> None:
    trust = TrustStore([TrustedClient(id="hub", kind="PEER", cert=running_hub.hub_cert)])
    envelope = parse_xml(etree.tostring(answer), bytes_max=10_000_000, depth_max=64)
    verify_envelope(envelope, trust, SignaturePolicy(), MemoryReplayCache(), datetime.now(UTC))


def logged(running_hub) -> list[tuple[str, bytes]]:
    with running_hub.hub.db.transaction() as session:
        return [(r.direction, r.payload) for r in session.scalars(select(MessageRecord).order_by(MessageRecord.seq))]


@pytest.mark.parametrize(
    ("path", "service", "port"),
    [
        ("office", "OfficeService", "OfficePort"),
        ("company", "CompanyService", "CompanyPort"),
        ("cashdesk", "CashDeskService", "CashDeskPort"),
        ("bank", "BankInService", "BankInPort"),
    ],
)
def test_the_wsdl_is_served_with_the_real_address(running_hub, path, service, port):
    client = zeep.Client(f"{running_hub.url}/soap/{path}?wsdl")
    address = client.wsdl.services[service].ports[port].binding_options["address"]
    assert address == f"{running_hub.url}/soap/{path}"


def test_an_unprocessed_header_with_must_understand_is_refused(running_hub, coupon):
    block = (
        f'<wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:soap="{ns.SOAP_ENV_11}"'
        ' soap:mustUnderstand="1">Redeem</wsa:Action>'
    )
    request = with_header(running_hub, coupon, block)
    status, answer = running_hub.post(request)
    code, text = fault_of(answer)
    assert (status, code) == (500, f"{SOAP}MustUnderstand")
    assert "{http://www.w3.org/2005/08/addressing}Action" in text and "wsse:Security only" in text
    assert answer.find(f"{SOAP}Body/{SOAP}Fault/detail") is None
    signed_by_the_hub(running_hub, answer)
    assert logged(running_hub)[0] == (REQUEST, request)
    assert [d for d, _ in logged(running_hub)] == [REQUEST, RESPONSE]
    assert running_hub.hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"


def test_headers_the_hub_may_ignore_are_ignored(running_hub, coupon):
    """mustUnderstand="0", or a header meant for another actor: processed as if absent."""
    for block in (
        f'<x:Trace xmlns:x="urn:vendor" xmlns:soap="{ns.SOAP_ENV_11}" soap:mustUnderstand="0">1</x:Trace>',
        f'<x:Trace xmlns:x="urn:vendor" xmlns:soap="{ns.SOAP_ENV_11}" soap:mustUnderstand="1"'
        ' soap:actor="urn:other-node">1</x:Trace>',
        '<x:Trace xmlns:x="urn:vendor">1</x:Trace>',
    ):
        message = office_request("VerifyCoupon", CouponId=coupon, OfficeCode="1465")
        message.find(f"{SOAP}Header").append(etree.fromstring(block))
        status, answer = running_hub.post(etree.tostring(sign_envelope(message, running_hub.identity("pojazd-1465"))))
        assert status == 200, etree.tostring(answer)


def test_a_soap_12_envelope_gets_version_mismatch(running_hub, coupon):
    request = (
        f'<env:Envelope xmlns:env="{SOAP_12}"><env:Body><o:VerifyCouponRequest xmlns:o="{ns.OFFICE}">'
        f"<o:CouponId>{coupon}</o:CouponId><o:OfficeCode>1465</o:OfficeCode></o:VerifyCouponRequest></env:Body></env:Envelope>"
    ).encode()
    status, answer = running_hub.post(request)
    code, text = fault_of(answer)
    assert (status, code) == (500, f"{SOAP}VersionMismatch")
    assert "SOAP 1.2" in text and ns.SOAP_ENV_11 in text
    assert answer.tag == f"{SOAP}Envelope"
    signed_by_the_hub(running_hub, answer)
    assert logged(running_hub)[0] == (REQUEST, request)
    assert [d for d, _ in logged(running_hub)] == [REQUEST, RESPONSE]
