"""Exclusive c14n with `ec:InclusiveNamespaces PrefixList`, as WSS4J, CXF, Metro and WCF sign:
accepted, honoured, and never a way around the strict checks (the wrapping variants that carry
a PrefixList included)."""

from __future__ import annotations

import pytest
import signxml
from lxml import etree

from hub import ns
from hub.signing import FailedCheck, InvalidSecurity
from hub.signing.c14n import canonicalize, prefix_list
from tests.support.signing import ECHO, NSMAP, find, office_style_envelope, refused, reparse, signed_like_wss4j, verify

EC = f"{{{ns.EXC_C14N}}}"
WSU_ID = f"{{{ns.WSU}}}Id"


@pytest.mark.parametrize("who", ["pojazd", "word_ec"])
def test_wss4j_prefix_lists_are_accepted(pki, trust, who):
    message = signed_like_wss4j(getattr(pki, who), unsigned=office_style_envelope())
    assert (
        find(message, ".//ds:CanonicalizationMethod/ec:InclusiveNamespaces".replace("ec:", EC)).get("PrefixList")
        == "o soap"
    )
    verified = verify(message, trust)
    assert verified.body.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) == "100.00"


def test_default_namespace_in_a_prefix_list_is_accepted(pki, trust):
    unsigned = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}" xmlns="{ECHO}"><soap:Header/><soap:Body>'
        "<EchoRequest><Text>hi</Text><Amount>5.00</Amount></EchoRequest></soap:Body></soap:Envelope>"
    )
    message = signed_like_wss4j(pki.pojazd, signed_info=("#default", "soap"), body=("#default",), unsigned=unsigned)
    assert verify(message, trust).body.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) == "5.00"


def test_the_prefix_list_is_honoured(pki, trust):
    """A prefix the Body does not use, listed in its PrefixList: its declaration is signed, so
    changing it on the Envelope breaks the digest (plain exclusive c14n would not notice)."""
    unsigned = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}" xmlns:x="urn:a"><soap:Header/><soap:Body>'
        f'<e:EchoRequest xmlns:e="{ECHO}"><e:Text>x:Thing</e:Text><e:Amount>1.00</e:Amount></e:EchoRequest>'
        "</soap:Body></soap:Envelope>"
    )
    message = signed_like_wss4j(pki.pojazd, signed_info=None, body=("x",), unsigned=unsigned)
    assert b'xmlns:x="urn:a"' in canonicalize(find(message, "soap:Body"), ["x"])
    verify(message, trust)
    changed = reparse(etree.fromstring(etree.tostring(message).replace(b'xmlns:x="urn:a"', b'xmlns:x="urn:evil"')))
    refused(changed, trust, FailedCheck, "Digest mismatch")


# --- what an InclusiveNamespaces may be ----------------------------------------------------


def _transform(message):
    return find(message, ".//ds:Reference/ds:Transforms/ds:Transform")


def test_two_inclusive_namespaces_are_refused(pki, trust):
    message = signed_like_wss4j(pki.pojazd)
    etree.SubElement(_transform(message), EC + "InclusiveNamespaces", PrefixList="soap")
    refused(message, trust, InvalidSecurity, "only one ec:InclusiveNamespaces is allowed")


def test_inclusive_namespaces_without_prefix_list_is_refused(pki, trust):
    message = signed_like_wss4j(pki.pojazd)
    del _transform(message)[0].attrib["PrefixList"]
    refused(message, trust, InvalidSecurity, "has no PrefixList")


@pytest.mark.parametrize("bad", ["soap o:x", "wsse\u00a0", "1abc", '"'])
def test_a_prefix_list_of_non_prefixes_is_refused(pki, trust, bad):
    message = signed_like_wss4j(pki.pojazd)
    find(message, ".//ds:CanonicalizationMethod")[0].set("PrefixList", bad)
    refused(message, trust, InvalidSecurity, "which is not a namespace prefix")


def test_inclusive_namespaces_of_another_namespace_is_refused(pki, trust):
    message = signed_like_wss4j(pki.pojazd)
    etree.SubElement(find(message, ".//ds:CanonicalizationMethod"), "{urn:evil}InclusiveNamespaces", PrefixList="soap")
    refused(message, trust, InvalidSecurity, "only one ec:InclusiveNamespaces is allowed")


def test_prefix_list_reading_collapses_whitespace():
    element = etree.fromstring(
        f'<t xmlns:ec="{ns.EXC_C14N}"><ec:InclusiveNamespaces PrefixList=" wsse\t o  soap "/></t>'
    )
    assert prefix_list(element) == ["wsse", "o", "soap"]
    assert prefix_list(etree.fromstring("<t/>")) is None


# --- wrapping with a PrefixList ------------------------------------------------------------


def test_signed_body_moved_with_its_prefix_list_into_a_wrapper_that_redefines_the_prefix(pki, trust):
    message = signed_like_wss4j(pki.pojazd, unsigned=office_style_envelope())
    body = find(message, "soap:Body")
    forged = etree.fromstring(etree.tostring(body))
    find(forged, "e:EchoRequest/e:Amount").text = "999999.00"
    del forged.attrib[WSU_ID]
    wrapper = etree.SubElement(find(message, "soap:Header"), "{urn:evil}Wrapper", nsmap={"o": "urn:evil"})
    wrapper.append(body)
    message.append(forged)
    refused(message, trust, InvalidSecurity, "2 soap:Body elements (/Envelope/Header/Wrapper/Body, /Envelope/Body)")


def test_signed_body_moved_with_its_prefix_list_intact_still_verifies_but_is_refused(pki, trust):
    """The wrapper declares the same namespaces, so the signature itself still verifies
    (plain signxml says so); only the placement checks stop it."""
    message = signed_like_wss4j(pki.pojazd, unsigned=office_style_envelope())
    body = find(message, "soap:Body")
    forged = etree.fromstring(etree.tostring(body))
    find(forged, "e:EchoRequest/e:Amount").text = "999999.00"
    forged.set(WSU_ID, "forged")
    etree.SubElement(find(message, "soap:Header"), "{urn:evil}Wrapper").append(body)
    message.append(forged)
    message = reparse(message)
    config = signxml.SignatureConfiguration(expect_references=2)
    results = signxml.XMLVerifier().verify(
        message, x509_cert=pki.pojazd.identity.cert, expect_config=config, validate_schema=False
    )
    assert "100.00" in [r.signed_xml.findtext(".//e:Amount", namespaces=NSMAP) for r in results]
    refused(message, trust, InvalidSecurity, "2 soap:Body elements")


def test_body_prefix_redefined_in_place_fails_the_digest(pki, trust):
    """The Body stays put, but a declaration on it gives the listed prefix another namespace."""
    message = signed_like_wss4j(pki.pojazd, unsigned=office_style_envelope())
    text = etree.tostring(message).replace(b"<soap:Body ", b'<soap:Body xmlns:o="urn:evil" ', 1)
    refused(reparse(etree.fromstring(text)), trust, FailedCheck, "Digest mismatch")


def test_signed_timestamp_wrapped_with_its_prefix_list_and_a_fresh_one_added(pki, trust):
    message = signed_like_wss4j(pki.pojazd, unsigned=office_style_envelope())
    security = find(message, ".//wsse:Security")
    timestamp = find(security, "wsu:Timestamp")
    fresh = etree.fromstring(etree.tostring(timestamp))
    del fresh.attrib[WSU_ID]
    find(fresh, "wsu:Expires").text = "2099-01-01T00:00:00Z"
    security.replace(timestamp, fresh)
    etree.SubElement(security, "{urn:evil}Wrapper", nsmap={"wsse": "urn:evil"}).append(timestamp)
    refused(message, trust, InvalidSecurity, "2 wsu:Timestamp elements")


def test_duplicate_id_with_a_prefix_list(pki, trust):
    message = signed_like_wss4j(pki.pojazd, unsigned=office_style_envelope())
    body_id = find(message, "soap:Body").get(WSU_ID)
    find(message, "soap:Header").insert(0, etree.Element("{urn:evil}Decoy", {WSU_ID: body_id}))
    refused(message, trust, InvalidSecurity, "appears more than once")
