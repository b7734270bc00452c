"""Signature wrapping: a validly signed envelope rearranged so the service would read unsigned data.

Each attack keeps the signed elements byte for byte (so the signature itself still verifies, as
zeep, xmlsec1 and plain signxml confirm) and puts a forged Body or Timestamp where it is read.
"""

from __future__ import annotations

import pytest
from lxml import etree

from hub import ns
from hub.signing import InvalidSecurity
from tests.support.signing import ECHO, NSMAP, find, refused, signed

EVIL = "urn:evil"
WSU_ID = f"{{{ns.WSU}}}Id"


def forged_body(body_id: str | None = None) -> etree._Element:
    body = etree.fromstring(
        f'<soap:Body xmlns:soap="{ns.SOAP_ENV_11}"><e:EchoRequest xmlns:e="{ECHO}">'
        "<e:Text>pay me</e:Text><e:Amount>999999.00</e:Amount></e:EchoRequest></soap:Body>"
    )
    if body_id is not None:
        body.set(WSU_ID, body_id)
    return body


def move_body_into(message: etree._Element, new_parent: etree._Element, keep_id: bool = False) -> None:
    """Move the signed Body under `new_parent`; a forged Body takes its place."""
    body = find(message, "soap:Body")
    message.append(forged_body(body.get(WSU_ID) if keep_id else None))
    new_parent.append(body)


def header_wrapper(message: etree._Element) -> etree._Element:
    """An element of another namespace, new in the Header."""
    return etree.SubElement(find(message, "soap:Header"), f"{{{EVIL}}}Wrapper")


def security_header(message: etree._Element) -> etree._Element:
    return find(message, ".//wsse:Security")


def signature_object(message: etree._Element) -> etree._Element:
    """A ds:Object, new in the Signature: signed XML may carry one, and nothing reads it."""
    return etree.SubElement(find(message, ".//ds:Signature"), f"{{{ns.DS}}}Object")


BOTH_BODIES = "2 soap:Body elements"


@pytest.mark.parametrize(
    ("new_parent", "keep_id", "fragment"),
    [
        pytest.param(
            header_wrapper,
            False,
            f"{BOTH_BODIES} (/Envelope/Header/Wrapper/Body, /Envelope/Body)",
            id="a_into_a_header_element",
        ),
        pytest.param(header_wrapper, True, BOTH_BODIES, id="a_into_a_header_element_forged_body_with_same_id"),
        pytest.param(security_header, False, "/Envelope/Header/Security/Body", id="b_into_security"),
        pytest.param(
            signature_object,
            False,
            "/Envelope/Header/Security/Signature/Object/Body",
            id="c_into_a_ds_object_of_the_signature",
        ),
    ],
)
def test_signed_body_moved(pki, trust, new_parent, keep_id, fragment):
    message = signed(pki.pojazd)
    move_body_into(message, new_parent(message), keep_id)
    refused(message, trust, InvalidSecurity, fragment)


def test_d_duplicate_id_before_the_signed_body(pki, trust):
    message = signed(pki.pojazd)
    body_id = find(message, "soap:Body").get(WSU_ID)
    decoy = etree.Element(f"{{{EVIL}}}Decoy", {WSU_ID: body_id})
    find(message, "soap:Header").insert(0, decoy)
    refused(message, trust, InvalidSecurity, f"The id '{body_id}' appears more than once")


def test_d_duplicate_id_after_the_signed_body(pki, trust):
    message = signed(pki.pojazd)
    body_id = find(message, "soap:Body").get(WSU_ID)
    etree.SubElement(find(message, "soap:Body/e:EchoRequest"), f"{{{EVIL}}}Decoy", {WSU_ID: body_id})
    refused(message, trust, InvalidSecurity, "(/Envelope/Body, /Envelope/Body/EchoRequest/Decoy)")


def test_d_duplicate_id_in_another_attribute_name(pki, trust):
    """signxml looks up Id, then ID, then id, in any namespace: all of them count."""
    for name in ("ID", "id", "{http://www.w3.org/XML/1998/namespace}id", f"{{{EVIL}}}Id"):
        message = signed(pki.pojazd)
        timestamp_id = find(message, ".//wsu:Timestamp").get(WSU_ID)
        etree.SubElement(find(message, "soap:Header"), f"{{{EVIL}}}Decoy", {name: timestamp_id})
        refused(message, trust, InvalidSecurity, "appears more than once")


def test_e_a_second_body(pki, trust):
    message = signed(pki.pojazd)
    message.append(forged_body())
    refused(message, trust, InvalidSecurity, BOTH_BODIES)


def test_e_a_second_body_before_the_signed_one(pki, trust):
    message = signed(pki.pojazd)
    find(message, "soap:Header").addnext(forged_body())
    refused(message, trust, InvalidSecurity, BOTH_BODIES)


def test_f_signed_timestamp_wrapped_and_a_fresh_unsigned_one_added(pki, trust):
    message = signed(pki.pojazd)
    security = find(message, ".//wsse:Security")
    timestamp = find(security, "wsu:Timestamp")
    wrapper = etree.SubElement(security, f"{{{EVIL}}}Wrapper")
    fresh = etree.fromstring(etree.tostring(timestamp))
    del fresh.attrib[WSU_ID]
    find(fresh, "wsu:Expires").text = "2099-01-01T00:00:00Z"
    security.replace(timestamp, fresh)
    wrapper.append(timestamp)
    refused(message, trust, InvalidSecurity, "2 wsu:Timestamp elements")


def test_timestamp_moved_out_of_security(pki, trust):
    message = signed(pki.pojazd)
    find(message, "soap:Header").append(find(message, ".//wsu:Timestamp"))
    refused(message, trust, InvalidSecurity, "wsu:Timestamp is at /Envelope/Header/Timestamp")


def test_signature_moved_into_the_body(pki, trust):
    message = signed(pki.pojazd)
    find(message, "soap:Body/e:EchoRequest").append(find(message, ".//ds:Signature"))
    refused(message, trust, InvalidSecurity, "it must be a child of wsse:Security")


def test_second_security_header(pki, trust):
    message = signed(pki.pojazd)
    find(message, "soap:Header").append(etree.Element(f"{{{ns.WSSE}}}Security"))
    refused(message, trust, InvalidSecurity, "2 wsse:Security elements")


def test_second_header(pki, trust):
    message = signed(pki.pojazd)
    find(message, "soap:Header").addnext(etree.Element(f"{{{ns.SOAP_ENV_11}}}Header"))
    refused(message, trust, InvalidSecurity, "2 soap:Header elements")


def test_body_not_under_the_envelope(pki, trust):
    message = signed(pki.pojazd)
    body = find(message, "soap:Body")
    wrapper = etree.SubElement(message, f"{{{EVIL}}}Wrapper")
    wrapper.append(body)
    refused(message, trust, InvalidSecurity, "soap:Body is at /Envelope/Wrapper/Body")


def test_wrapped_envelopes_still_carry_a_valid_signature(pki):
    """The attacks above do not break the signature itself: only the placement checks stop them."""
    import signxml

    message = signed(pki.pojazd)
    wrapper = etree.SubElement(find(message, "soap:Header"), f"{{{EVIL}}}Wrapper")
    move_body_into(message, wrapper)
    results = signxml.XMLVerifier().verify(
        message, x509_cert=pki.pojazd.identity.cert, expect_config=signxml.SignatureConfiguration(expect_references=2)
    )
    amounts = [r.signed_xml.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) for r in results]
    assert "100.00" in amounts
    assert find(message, "soap:Body/e:EchoRequest/e:Amount").text == "999999.00"
