"""How KeyInfo may name the signing certificate: a reference to the message's
BinarySecurityToken, or (for a client pinned by certificate) X509IssuerSerial, a
SubjectKeyIdentifier or a ThumbprintSHA1; anything else is SecurityTokenUnavailable,
naming what was sent and what is accepted."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree

from hub import ns
from hub.signing import InvalidSecurity, InvalidSecurityToken, SecurityTokenUnavailable, TrustStore, devcerts
from hub.signing.trust import ISSUER_SERIAL, SUBJECT_KEY_IDENTIFIER, THUMBPRINT_SHA1, certificate_key
from tests.support.signing import client_entry, find, party, refused, reparse, signed, signed_like_wss4j, verify

WSSE, DS = f"{{{ns.WSSE}}}", f"{{{ns.DS}}}"
X509_TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
VALUE_TYPES = {
    SUBJECT_KEY_IDENTIFIER: f"{X509_TOKEN_PROFILE}#X509SubjectKeyIdentifier",
    THUMBPRINT_SHA1: "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1",
}
KINDS = [ISSUER_SERIAL, SUBJECT_KEY_IDENTIFIER, THUMBPRINT_SHA1]


def issuer_serial(cert: x509.Certificate, dn: str | None = None) -> etree._Element:
    data = etree.Element(DS + "X509Data")
    pair = etree.SubElement(data, DS + "X509IssuerSerial")
    etree.SubElement(pair, DS + "X509IssuerName").text = dn or cert.issuer.rfc4514_string()
    etree.SubElement(pair, DS + "X509SerialNumber").text = str(cert.serial_number)
    return data


def key_identifier(kind: str, cert: x509.Certificate) -> etree._Element:
    element = etree.Element(WSSE + "KeyIdentifier", ValueType=VALUE_TYPES[kind], EncodingType=ns.BASE64_ENCODING)
    element.text = base64.b64encode(certificate_key(kind, cert)).decode()
    return element


def pointer(kind: str, cert: x509.Certificate) -> etree._Element:
    return issuer_serial(cert) if kind == ISSUER_SERIAL else key_identifier(kind, cert)


def named_by(message, new_pointer, keep_token=False):
    """KeyInfo (not signed) now names the certificate by `new_pointer`; the token goes unless kept."""
    reference = find(message, ".//ds:KeyInfo/wsse:SecurityTokenReference")
    reference[:] = [new_pointer]
    if not keep_token:
        token = find(message, ".//wsse:BinarySecurityToken")
        token.getparent().remove(token)
    return reparse(message)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("who", ["pojazd", "word_ec"])
def test_a_pinned_certificate_named_without_a_token_is_accepted(pki, trust, kind, who):
    party = getattr(pki, who)
    message = named_by(signed_like_wss4j(party), pointer(kind, party.identity.cert))
    assert verify(message, trust).client.id == {"pojazd": "pojazd", "word_ec": "word"}[who]


@pytest.mark.parametrize("kind", KINDS)
def test_a_ca_client_named_with_its_token_in_the_message_is_accepted(pki, trust, kind):
    message = named_by(signed(pki.kierowca), pointer(kind, pki.kierowca.identity.cert), keep_token=True)
    assert verify(message, trust).client.id == "kierowca"


@pytest.mark.parametrize("kind", KINDS)
def test_a_ca_client_named_without_its_token_is_refused(pki, trust, kind):
    message = named_by(signed(pki.kierowca), pointer(kind, pki.kierowca.identity.cert))
    error = refused(message, trust, SecurityTokenUnavailable, "a client trusted through a CA")
    assert kind in error.message


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_that_is_not_the_token_in_the_message_is_refused(pki, trust, kind):
    message = named_by(signed(pki.pojazd), pointer(kind, pki.word_ec.identity.cert), keep_token=True)
    refused(
        message,
        trust,
        SecurityTokenUnavailable,
        "which is not the certificate in the message's wsse:BinarySecurityToken",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_certificate_named_is_refused(pki, trust, kind):
    message = named_by(signed(pki.stranger), pointer(kind, pki.stranger.identity.cert))
    refused(message, trust, SecurityTokenUnavailable, "which is no client certificate pinned in clients.toml")


def test_issuer_name_in_the_dotnet_spelling_is_read(pki, tmp_path):
    """WCF writes `CN=a, O=b, C=PL` (a space after each comma); Java `CN=a,O=b,C=PL`."""
    ca_key, ca_cert = devcerts.make_ca("CN=Urzad CA,O=Urzad Miasta,C=PL")
    client = party(tmp_path, "dotnet", *devcerts.issue_cert(ca_key, ca_cert, "CN=WCF Client,O=Urzad Miasta,C=PL"))
    pinned = TrustStore.from_pem_files([client_entry("wcf", "POJAZD", cert=client.cert_path)])
    cert = client.identity.cert
    assert cert.issuer.rfc4514_string() == "CN=Urzad CA,O=Urzad Miasta,C=PL"
    message = named_by(signed(client), issuer_serial(cert, "CN=Urzad CA, O=Urzad Miasta, C=PL"))
    assert verify(message, pinned).client.id == "wcf"


@pytest.mark.parametrize("serial", ["12a", "", "\u0661\u0662", "9" * 61])
def test_an_unreadable_serial_number_is_refused(pki, trust, serial):
    data = issuer_serial(pki.pojazd.identity.cert)
    data[0][1].text = serial
    refused(named_by(signed(pki.pojazd), data), trust, InvalidSecurityToken, "X509SerialNumber")


def test_key_identifier_not_base64_is_refused(pki, trust):
    identifier = key_identifier(THUMBPRINT_SHA1, pki.pojazd.identity.cert)
    identifier.text = "not base64!"
    refused(named_by(signed(pki.pojazd), identifier), trust, InvalidSecurityToken, "not base64")


# --- what is not accepted, named ---------------------------------------------------------------


def test_a_certificate_inside_a_key_identifier_is_refused(pki, trust):
    identifier = etree.Element(
        WSSE + "KeyIdentifier", ValueType=f"{X509_TOKEN_PROFILE}#X509v3", EncodingType=ns.BASE64_ENCODING
    )
    identifier.text = base64.b64encode(pki.pojazd.identity.cert.public_bytes(serialization.Encoding.DER)).decode()
    error = refused(named_by(signed(pki.pojazd), identifier), trust, SecurityTokenUnavailable, "has ValueType")
    assert "#X509v3" in error.message and "accepted are" in error.message


def test_an_embedded_token_is_refused(pki, trust):
    embedded = etree.Element(WSSE + "Embedded")
    refused(
        named_by(signed(pki.pojazd), embedded), trust, SecurityTokenUnavailable, "holds wsse:Embedded; accepted are"
    )


def test_x509_data_with_a_subject_name_is_refused(pki, trust):
    data = etree.Element(DS + "X509Data")
    etree.SubElement(data, DS + "X509SubjectName").text = "CN=Pojazd 1465"
    refused(
        named_by(signed(pki.pojazd), data), trust, SecurityTokenUnavailable, "holds ds:X509SubjectName; accepted are"
    )


def test_a_key_name_instead_of_a_token_reference_is_refused(pki, trust):
    message = signed(pki.pojazd)
    key_info = find(message, ".//ds:KeyInfo")
    key_info[:] = [etree.Element(DS + "KeyName")]
    refused(reparse(message), trust, SecurityTokenUnavailable, "ds:KeyInfo holds ds:KeyName; accepted are")


def test_two_pointers_in_the_token_reference_are_refused(pki, trust):
    message = signed(pki.pojazd)
    find(message, ".//wsse:SecurityTokenReference").append(key_identifier(THUMBPRINT_SHA1, pki.pojazd.identity.cert))
    refused(reparse(message), trust, InvalidSecurity, "must hold exactly one reference; it holds 2")


def test_thumbprint_is_the_sha1_of_the_der(pki):
    cert = pki.pojazd.identity.cert
    assert certificate_key(THUMBPRINT_SHA1, cert) == cert.fingerprint(hashes.SHA1())
