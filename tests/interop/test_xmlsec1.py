"""xmlsec1 both ways over HTTP: requests it signs (exclusive c14n with InclusiveNamespaces, as a
Java stack lays them out) are accepted, and the hub's answers and faults verify with it."""

from __future__ import annotations

from lxml import etree

from hub import ns
from tests.support.factories import NIP, OPERATOR
from tests.support.soap import fault_of, office_request, redeem_fields
from tests.support.xmlsec1 import signed_by_xmlsec1, xmlsec1_verifies

O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace


def send(running_hub, client, operation, **fields):
    keys = running_hub.config_dir / "keys"
    identity = running_hub.identity(client)
    request = signed_by_xmlsec1(office_request(operation, **fields), keys / f"{client}.key", identity.cert)
    return request, *running_hub.post(request)


def test_xmlsec1_signed_requests_are_accepted_and_answers_verify_with_xmlsec1(running_hub, coupon):
    hub_cert = running_hub.config_dir / "keys" / "hub.crt"
    request, status, answer = send(running_hub, "pojazd-1465", "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    assert b"InclusiveNamespaces" in request
    assert status == 200 and answer.findtext(f".//{O}Valid") == "true"
    ok, report = xmlsec1_verifies(etree.tostring(answer), hub_cert)
    assert ok, report

    request, status, answer = send(running_hub, "pojazd-1465", "RedeemCoupon", **redeem_fields(coupon))
    assert status == 200 and answer.findtext(f".//{O}CapturedAmount") == "161.50"
    assert xmlsec1_verifies(etree.tostring(answer), hub_cert)[0]
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50

    status, fault = running_hub.post(request)  # the same signed request again: a replay
    code, text = fault_of(fault)
    assert (status, code) == (500, f"{{{ns.WSSE}}}InvalidSecurity") and "replay" in text
    assert xmlsec1_verifies(etree.tostring(fault), hub_cert)[0]


def test_xmlsec1_refuses_a_tampered_answer(running_hub, coupon):
    _, _, answer = send(running_hub, "pojazd-1465", "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    answer.find(f".//{O}Amount").text = "1.00"
    ok, _ = xmlsec1_verifies(etree.tostring(answer), running_hub.config_dir / "keys" / "hub.crt")
    assert not ok
