"""verify_envelope refuses, each with its WS-Security fault and a message that names the cause."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from hub import ns
from hub.signing import (
    FailedAuthentication,
    FailedCheck,
    InvalidSecurity,
    InvalidSecurityToken,
    MemoryReplayCache,
    MessageExpired,
    SecurityTokenUnavailable,
    UnsupportedAlgorithm,
)
from hub.signing.policy import RSA_SHA256
from tests.support.oracle import signxml_signature
from tests.support.signing import NOW, envelope, find, refused, reparse, signed, verify

INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
WSU_ID = f"{{{ns.WSU}}}Id"


# --- not signed, or not signed by whom it says ------------------------------------------------


def test_unsigned_envelope(trust):
    refused(envelope(), trust, InvalidSecurity, "not signed: it has no wsse:Security")


def test_security_header_without_signature(pki, trust):
    message = signed(pki.pojazd)
    signature = find(message, ".//ds:Signature")
    signature.getparent().remove(signature)
    refused(message, trust, InvalidSecurity, "wsse:Security has no ds:Signature")


def test_not_a_soap_11_envelope(trust):
    message = etree.fromstring(b'<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>')
    refused(message, trust, InvalidSecurity, "not a SOAP 1.1 Envelope")


def test_tampered_signature_value(pki, trust):
    message = signed(pki.pojazd)
    value = find(message, ".//ds:SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(raw).decode()
    refused(message, trust, FailedCheck, "does not verify")


def test_token_of_another_client_does_not_verify_the_signature(pki, trust):
    """The key comes from the token; swapping in another trusted certificate fails the check."""
    message = signed(pki.pojazd)
    other = signed(pki.kierowca)
    find(message, ".//wsse:BinarySecurityToken").text = find(other, ".//wsse:BinarySecurityToken").text
    refused(message, trust, FailedCheck, "does not verify")


def test_unknown_certificate(pki, trust):
    refused(signed(pki.stranger), trust, FailedAuthentication, "belongs to no configured client")


def test_expired_certificate_of_a_known_client(pki, trust):
    refused(signed(pki.expired), trust, InvalidSecurityToken, "expired at")


def test_certificate_not_yet_valid(pki, trust):
    early = NOW - timedelta(days=2)
    message = signed(pki.pojazd, now=early)
    refused(message, trust, InvalidSecurityToken, "is not valid before", now=early)


def test_ca_issued_certificate_with_another_subject(pki, trust):
    refused(signed(pki.wrong_subject), trust, FailedAuthentication, "CN=Kierowca 9999,O=Inny,C=PL is not the subject")


def test_certificate_forged_in_the_name_of_the_ca(pki, trust):
    refused(signed(pki.forged), trust, FailedAuthentication, "does not verify with that CA's key")


# --- one value edited after signing: the edit alone decides the fault ------------------------

TEXT = None  # the edit replaces the element's text, not an attribute
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
TOKEN_REFERENCE = ".//wsse:SecurityTokenReference/wsse:Reference"
NOT_A_CERTIFICATE = base64.b64encode(b"not a certificate").decode()
TRANSFORM = ".//ds:Reference/ds:Transforms/ds:Transform"
TOKEN = ".//wsse:BinarySecurityToken"
C14N_METHOD = ".//ds:CanonicalizationMethod"

# fmt: off
EDITS = {  # the case: where, which attribute (or TEXT), the new value, the fault, what its message says
    "tampered_body":
        ("soap:Body/e:EchoRequest/e:Amount", TEXT, "999.00", FailedCheck, "Digest mismatch"),
    "tampered_timestamp":
        (".//wsu:Expires", TEXT, "2099-01-01T00:00:00Z", FailedCheck, "Digest mismatch"),
    "token_reference_pointing_elsewhere":
        (TOKEN_REFERENCE, "URI", "#elsewhere", SecurityTokenUnavailable, "points at '#elsewhere'"),
    "token_that_is_not_x509v3":
        (TOKEN, "ValueType", "urn:kerberos", InvalidSecurityToken, "ValueType urn:kerberos"),
    "token_that_is_not_a_certificate":
        (TOKEN, TEXT, NOT_A_CERTIFICATE, InvalidSecurityToken, "not a base64-encoded DER X.509 certificate"),
    "reference_with_inclusive_c14n_transform":
        (TRANSFORM, "Algorithm", INCLUSIVE_C14N, UnsupportedAlgorithm, "only exclusive c14n"),
    "signed_info_with_inclusive_c14n":
        (C14N_METHOD, "Algorithm", INCLUSIVE_C14N, UnsupportedAlgorithm, "SignedInfo canonicalization"),
    "signature_method_off_the_list":
        (".//ds:SignatureMethod", "Algorithm", RSA_SHA512, UnsupportedAlgorithm, "rsa-sha512 is not allowed"),
    "digest_method_off_the_list":
        (".//ds:DigestMethod", "Algorithm", SHA512, UnsupportedAlgorithm, "sha512 is not allowed"),
    "reference_to_no_element":
        (".//ds:Reference", "URI", "#nothing", InvalidSecurity, "'#nothing' names no element"),
}
# fmt: on


@pytest.mark.parametrize(("path", "attribute", "value", "fault", "fragment"), EDITS.values(), ids=list(EDITS))
def test_one_value_edited_after_signing(pki, trust, path, attribute, value, fault, fragment):
    message = signed(pki.pojazd)
    element = find(message, path)
    if attribute is TEXT:
        element.text = value
    else:
        element.set(attribute, value)
    refused(message, trust, fault, fragment)


# --- token and key info -----------------------------------------------------------------------


def test_missing_binary_security_token(pki, trust):
    message = signed(pki.pojazd)
    token = find(message, ".//wsse:BinarySecurityToken")
    token.getparent().remove(token)
    refused(message, trust, SecurityTokenUnavailable, "no wsse:BinarySecurityToken")


def test_key_info_with_an_inline_certificate(pki, trust):
    message = signed(pki.pojazd)
    key_info = find(message, ".//ds:KeyInfo")
    data = etree.SubElement(key_info, f"{{{ns.DS}}}X509Data")
    etree.SubElement(data, f"{{{ns.DS}}}X509Certificate").text = find(message, ".//wsse:BinarySecurityToken").text
    refused(message, trust, InvalidSecurity, "exactly one wsse:SecurityTokenReference")


# --- algorithms -------------------------------------------------------------------------------


def test_reference_with_an_extra_transform(pki, trust):
    message = signed(pki.pojazd)
    transforms = find(message, ".//ds:Reference/ds:Transforms")
    transforms.insert(0, etree.Element(f"{{{ns.DS}}}Transform", Algorithm=ENVELOPED))
    refused(message, trust, UnsupportedAlgorithm, "exactly one exclusive c14n transform")


# --- what is signed ---------------------------------------------------------------------------


def resign(message, party, ids):
    """Replace the Signature by one over other references, validly signed by `party`."""
    signature = find(message, ".//ds:Signature")
    token_id = find(message, ".//wsse:BinarySecurityToken").get(WSU_ID)
    fresh = signxml_signature(message, party.identity, RSA_SHA256, ids, token_id)
    signature.getparent().replace(signature, fresh)
    return reparse(message)


def test_signature_over_the_body_only(pki, trust):
    message = signed(pki.pojazd)
    message = resign(message, pki.pojazd, [find(message, "soap:Body").get(WSU_ID)])
    refused(message, trust, InvalidSecurity, "has 1 references")


def test_signature_over_body_and_token_instead_of_timestamp(pki, trust):
    message = signed(pki.pojazd)
    ids = [find(message, path).get(WSU_ID) for path in ("soap:Body", ".//wsse:BinarySecurityToken")]
    message = resign(message, pki.pojazd, ids)
    refused(message, trust, InvalidSecurity, "references /Envelope/Body, /Envelope/Header/Security/BinarySecurityToken")


def test_signature_over_the_body_twice(pki, trust):
    message = signed(pki.pojazd)
    body_id = find(message, "soap:Body").get(WSU_ID)
    message = resign(message, pki.pojazd, [body_id, body_id])
    refused(message, trust, InvalidSecurity, "must reference exactly the soap:Body and the wsu:Timestamp")


def test_two_signatures(pki, trust):
    message = signed(pki.pojazd)
    signature = find(message, ".//ds:Signature")
    signature.addnext(etree.fromstring(etree.tostring(signature)))
    refused(message, trust, InvalidSecurity, "2 ds:Signature elements")


# --- time -------------------------------------------------------------------------------------


def test_stale_timestamp(pki, trust):
    message = signed(pki.pojazd, now=NOW - timedelta(seconds=901), ttl_s=3600)
    refused(message, trust, MessageExpired, "older than 900 s")


def test_future_timestamp(pki, trust):
    message = signed(pki.pojazd, now=NOW + timedelta(seconds=301))
    refused(message, trust, MessageExpired, "is in the future")


def test_timestamp_within_clock_skew_is_accepted(pki, trust):
    assert verify(signed(pki.pojazd, now=NOW + timedelta(seconds=299)), trust).client.id == "pojazd"


def test_expires_passed(pki, trust):
    message = signed(pki.pojazd, now=NOW - timedelta(seconds=100), ttl_s=60)
    refused(message, trust, MessageExpired, "The message expired at")


# --- replay -----------------------------------------------------------------------------------


def verified_once(party, trust):
    """A message the hub has accepted once, and the replay cache that now remembers it."""
    replay = MemoryReplayCache(lambda: NOW)
    message = signed(party)
    verify(message, trust, replay=replay)
    return message, replay


def test_same_message_twice_is_a_replay(pki, trust):
    message, replay = verified_once(pki.pojazd, trust)
    refused(message, trust, InvalidSecurity, "received before (replay)", replay=replay)


def test_replay_with_respelled_signature_value(pki, trust):
    message, replay = verified_once(pki.pojazd, trust)
    value = find(message, ".//ds:SignatureValue")
    value.text = "\n".join(value.text[i : i + 64] for i in range(0, len(value.text), 64))
    refused(message, trust, InvalidSecurity, "(replay)", replay=replay)


def test_replay_with_the_ecdsa_twin_signature(pki, trust):
    """(r, s) and (r, n - s) both verify: a key over SignatureValue would let this through."""
    message, replay = verified_once(pki.word_ec, trust)
    value = find(message, ".//ds:SignatureValue")
    raw = base64.b64decode(value.text)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # order of P-256
    assert isinstance(pki.word_ec.identity.private_key.curve, ec.SECP256R1)
    value.text = base64.b64encode(r + (n - s).to_bytes(32, "big")).decode()
    refused(message, trust, InvalidSecurity, "(replay)", replay=replay)


def test_replay_key_is_kept_until_the_message_could_no_longer_be_accepted(pki, trust):
    seen = {}

    class Recorder:
        def remember(self, key, expires_at):
            seen[key] = expires_at
            return True

    verified = verify(signed(pki.pojazd, ttl_s=3600), trust, replay=Recorder())
    assert seen == {verified.signature_key: NOW + timedelta(seconds=900)}


def test_fault_qnames_use_the_ws_security_namespaces():
    assert FailedCheck.qname == (ns.WSSE, "FailedCheck")
    assert MessageExpired.qname == (ns.WSU, "MessageExpired")
    assert FailedCheck("x").code == "FailedCheck"
