"""Apache WSS4J 1.6 (Debian's libwss4j-java; the signer inside CXF and Metro) as an office
system: its signed VerifyCoupon and RedeemCoupon are accepted over HTTP, with its defaults and
with each key identifier, and the hub's answers and faults verify in WSS4J."""

from __future__ import annotations

import pytest
from lxml import etree

from hub import ns
from hub.signing.policy import RSA_SHA1, RSA_SHA256, SHA1, SHA256
from tests.support.factories import NIP, OPERATOR
from tests.support.soap import fault_of, office_request, redeem_fields

O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace, as short as WSSE and DS
WSSE, DS = f"{{{ns.WSSE}}}", f"{{{ns.DS}}}"
HUB_SIGNED = {"Body", "Timestamp"}
HUB_SUBJECT = "CN=hub.example"
# What each WSS4J key identifier puts in the SecurityTokenReference, and whether a token travels.
KEY_IDS = {
    "default": (f"{DS}X509Data", False),  # WSS4J's default is IssuerSerial
    "BST": (f"{WSSE}Reference", True),
    "IssuerSerial": (f"{DS}X509Data", False),
    "SKI": (f"{WSSE}KeyIdentifier", False),
    "Thumbprint": (f"{WSSE}KeyIdentifier", False),
}


def hub_cert(running_hub):
    return running_hub.config_dir / "keys" / "hub.crt"


def verified_by_wss4j(wss4j, running_hub, answer) -> None:
    verdict = wss4j.verify(hub_cert(running_hub), answer)
    assert verdict.startswith("ok "), verdict
    _, signed, subject = verdict.split(" ")
    assert set(signed.split(",")) == HUB_SIGNED and subject.startswith(HUB_SUBJECT), verdict


def call(
    running_hub, wss4j, operation, client="pojazd-1465", key_id="default", signature=RSA_SHA256, digest=SHA256, **fields
):
    request = wss4j.sign(running_hub.identity(client), office_request(operation, **fields), key_id, signature, digest)
    status, answer = running_hub.post(request)
    return etree.fromstring(request), status, answer


@pytest.mark.parametrize("key_id", KEY_IDS)
def test_wss4j_signed_verify_and_redeem_are_accepted_and_answers_verify_in_wss4j(running_hub, coupon, wss4j, key_id):
    request, status, answer = call(
        running_hub, wss4j, "VerifyCoupon", key_id=key_id, CouponId=coupon, OfficeCode="1465"
    )
    pointer, token = KEY_IDS[key_id]
    assert request.find(f".//{WSSE}SecurityTokenReference")[0].tag == pointer
    assert (request.find(f".//{WSSE}BinarySecurityToken") is not None) == token
    assert request.find(f".//{DS}CanonicalizationMethod/{{{ns.EXC_C14N}}}InclusiveNamespaces") is not None
    assert status == 200, etree.tostring(answer)
    assert (answer.findtext(f".//{O}Valid"), answer.findtext(f".//{O}Amount")) == ("true", "161.50")
    verified_by_wss4j(wss4j, running_hub, answer)

    _, status, answer = call(running_hub, wss4j, "RedeemCoupon", key_id=key_id, **redeem_fields(coupon))
    assert status == 200, etree.tostring(answer)
    assert answer.findtext(f".//{O}CapturedAmount") == "161.50"
    verified_by_wss4j(wss4j, running_hub, answer)
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50


def test_wss4j_defaults_sign_with_rsa_sha1_which_is_refused(running_hub, coupon, wss4j):
    request, status, answer = call(
        running_hub, wss4j, "RedeemCoupon", signature="default", digest="default", **redeem_fields(coupon)
    )
    assert request.find(f".//{DS}SignatureMethod").get("Algorithm") == RSA_SHA1
    code, text = fault_of(answer)
    assert (status, code) == (500, f"{WSSE}UnsupportedAlgorithm") and "rsa-sha1" in text
    verified_by_wss4j(wss4j, running_hub, answer)
    assert running_hub.hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"


def test_wss4j_defaults_are_accepted_for_a_client_that_allows_sha1(running_hub, coupon, wss4j):
    request, status, answer = call(
        running_hub,
        wss4j,
        "RedeemCoupon",
        client="legacy-sha1",
        signature="default",
        digest="default",
        **redeem_fields(coupon),
    )
    assert {d.get("Algorithm") for d in request.iter(f"{DS}DigestMethod")} == {SHA1}
    assert status == 200, etree.tostring(answer)
    verified_by_wss4j(wss4j, running_hub, answer)


def test_a_ca_trusted_client_must_send_its_token(running_hub, coupon, wss4j):
    """pojazd-1261 is trusted through the dev CA: by BST it is accepted; by IssuerSerial the
    hub cannot know the certificate and says what it accepts. The fault verifies in WSS4J."""
    _, status, answer = call(
        running_hub, wss4j, "VerifyCoupon", client="pojazd-1261", key_id="BST", CouponId=coupon, OfficeCode="1261"
    )
    assert status == 200, etree.tostring(answer)
    _, status, answer = call(
        running_hub,
        wss4j,
        "VerifyCoupon",
        client="pojazd-1261",
        key_id="IssuerSerial",
        CouponId=coupon,
        OfficeCode="1261",
    )
    code, text = fault_of(answer)
    assert (status, code) == (500, f"{WSSE}SecurityTokenUnavailable")
    assert "X509IssuerSerial (issuer CN=Hub Dev CA" in text and "BinarySecurityToken" in text
    verified_by_wss4j(wss4j, running_hub, answer)


def test_a_domain_fault_verifies_in_wss4j(running_hub, coupon, wss4j):
    _, status, answer = call(running_hub, wss4j, "RedeemCoupon", **redeem_fields(coupon, OfficeCode="1261"))
    code, _ = fault_of(answer)
    assert (status, code) == (500, f"{{{ns.SOAP_ENV_11}}}Client.NotAuthorized")
    verified_by_wss4j(wss4j, running_hub, answer)


def test_wss4j_refuses_a_tampered_answer(running_hub, coupon, wss4j):
    """The same WSS4J check, to show it can fail."""
    _, _, answer = call(running_hub, wss4j, "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    answer.find(f".//{O}Amount").text = "1.00"
    assert wss4j.verify(hub_cert(running_hub), answer).startswith("error ")


def test_wss4j_refuses_an_answer_signed_by_another_key(running_hub, coupon, wss4j):
    _, _, answer = call(running_hub, wss4j, "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    other = running_hub.config_dir / "keys" / "pojazd-1465.crt"
    assert wss4j.verify(other, answer).startswith("error ")


def _forged_copy(body: etree._Element) -> etree._Element:
    forged = etree.fromstring(etree.tostring(body))
    forged.find(f".//{O}CaseNumber").text = "forged"
    del forged.attrib[f"{{{ns.WSU}}}Id"]
    return forged


def test_wss4j_signed_body_wrapped_with_its_prefix_list_is_refused(running_hub, coupon, wss4j):
    """WSS4J's signed Body (Transform PrefixList "o") moved into a header wrapper, once where
    the wrapper redefines the prefix `o` and once with every declaration intact; a forged Body
    takes its place. Both refused; nothing changes."""
    for redefine in (True, False):
        request = etree.fromstring(
            wss4j.sign(
                running_hub.identity("pojazd-1465"),
                office_request("RedeemCoupon", **redeem_fields(coupon)),
                "BST",
                RSA_SHA256,
                SHA256,
            )
        )
        body = request.find(f"{{{ns.SOAP_ENV_11}}}Body")
        transform = request.find(
            f".//{DS}Reference[@URI='#{body.get(f'{{{ns.WSU}}}Id')}']//{{{ns.EXC_C14N}}}InclusiveNamespaces"
        )
        assert transform.get("PrefixList") == "o"
        forged = _forged_copy(body)
        wrapper = etree.SubElement(
            request.find(f"{{{ns.SOAP_ENV_11}}}Header"),
            "{urn:evil}Wrapper",
            nsmap={"o": "urn:evil"} if redefine else None,
        )
        wrapper.append(body)
        request.append(forged)
        status, answer = running_hub.post(etree.tostring(request))
        code, text = fault_of(answer)
        assert (status, code) == (500, f"{WSSE}InvalidSecurity") and "2 soap:Body elements" in text
        verified_by_wss4j(wss4j, running_hub, answer)
    assert running_hub.hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"


def test_soap_processing_faults_verify_in_wss4j(running_hub, coupon, wss4j):
    message = office_request("VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    message.find(f"{{{ns.SOAP_ENV_11}}}Header").append(
        etree.fromstring(
            f'<x:Session xmlns:x="urn:vendor" xmlns:soap="{ns.SOAP_ENV_11}" soap:mustUnderstand="1">7</x:Session>'
        )
    )
    status, answer = running_hub.post(
        wss4j.sign(running_hub.identity("pojazd-1465"), message, "BST", RSA_SHA256, SHA256)
    )
    assert (status, fault_of(answer)[0]) == (500, f"{{{ns.SOAP_ENV_11}}}MustUnderstand")
    verified_by_wss4j(wss4j, running_hub, answer)

    soap12 = (
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        f'<o:VerifyCouponRequest xmlns:o="{ns.OFFICE}"/></e:Body></e:Envelope>'
    )
    status, answer = running_hub.post(soap12.encode())
    assert (status, fault_of(answer)[0]) == (500, f"{{{ns.SOAP_ENV_11}}}VersionMismatch")
    verified_by_wss4j(wss4j, running_hub, answer)
