"""Signed envelopes: accepted by verify_envelope, by xmlsec1 and by zeep (contract section 2)."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from lxml import etree

from hub import ns
from hub.signing import SignaturePolicy, TrustedClient, TrustStore, sign_envelope
from hub.signing.faults import SecurityFault
from hub.signing.policy import ECDSA_SHA256, RSA_SHA256, SHA256
from hub.signing.sign import prepare_signature
from hub.signing.verify import MemoryReplayCache
from tests.support.signing import ECHO, NOW, NSMAP, envelope, find, require_tool, signed, verify


def test_round_trip_returns_client_and_signed_body(pki, trust):
    verified = verify(signed(pki.pojazd), trust)
    assert verified.client.id == "pojazd"
    assert verified.client.offices == ("1465",)
    assert verified.body.tag == f"{{{ns.SOAP_ENV_11}}}Body"
    assert verified.body.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) == "100.00"
    assert verified.created == NOW
    assert verified.expires == NOW + timedelta(seconds=300)
    assert len(verified.signature_key) == 64


def test_ec_key_signs_with_ecdsa_sha256(pki, trust):
    message = signed(pki.word_ec)
    assert find(message, ".//ds:SignatureMethod").get("Algorithm") == ECDSA_SHA256
    assert verify(message, trust).client.id == "word"


def test_ca_issued_client_with_configured_subject_is_accepted(pki, trust):
    assert verify(signed(pki.kierowca), trust).client.id == "kierowca"


def test_profile_of_a_signed_envelope(pki):
    message = signed(pki.pojazd)
    security = find(message, "soap:Header/wsse:Security")
    assert security.get(f"{{{ns.SOAP_ENV_11}}}mustUnderstand") == "1"
    assert [etree.QName(child).localname for child in security] == ["Timestamp", "BinarySecurityToken", "Signature"]
    token = find(security, "wsse:BinarySecurityToken")
    assert token.get("ValueType") == ns.X509_TOKEN_V3
    assert token.get("EncodingType") == ns.BASE64_ENCODING
    signed_info = find(security, "ds:Signature/ds:SignedInfo")
    assert find(signed_info, "ds:CanonicalizationMethod").get("Algorithm") == ns.EXC_C14N
    assert find(signed_info, "ds:SignatureMethod").get("Algorithm") == RSA_SHA256
    uris = [reference.get("URI") for reference in signed_info.findall("ds:Reference", NSMAP)]
    ids = ["#" + find(message, path).get(f"{{{ns.WSU}}}Id") for path in ("soap:Body", ".//wsu:Timestamp")]
    assert uris == ids
    assert {d.get("Algorithm") for d in signed_info.iterfind(".//ds:DigestMethod", NSMAP)} == {SHA256}
    pointer = find(security, "ds:Signature/ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference")
    assert pointer.get("URI") == "#" + token.get(f"{{{ns.WSU}}}Id")


def test_existing_header_is_kept_and_envelope_signed_in_place(pki, trust):
    unsigned = envelope(header=True)
    result = sign_envelope(unsigned, pki.pojazd.identity, now=NOW)
    assert result is unsigned
    assert len(unsigned.findall(f"{{{ns.SOAP_ENV_11}}}Header")) == 1
    assert verify(unsigned, trust).client.id == "pojazd"


def test_signing_twice_is_refused(pki):
    once = sign_envelope(envelope(), pki.pojazd.identity, now=NOW)
    with pytest.raises(ValueError, match="already has a wsse:Security"):
        sign_envelope(once, pki.pojazd.identity, now=NOW)


@pytest.mark.parametrize("who", ["pojazd", "word_ec"])
def test_an_envelope_prepared_then_sealed_is_signed_and_its_unsealed_bytes_lack_only_the_value(pki, trust, who):
    """How the hub signs its answers: `prepare_signature` does everything but the key's work,
    and the bytes then serialised (what the message log records) differ from the sealed
    envelope's only in the SignatureValue's text."""
    unsigned = envelope()
    signature = prepare_signature(unsigned, getattr(pki, who).identity, now=NOW)
    unsealed = etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    with pytest.raises(SecurityFault, match="SignatureValue"):
        verify(etree.fromstring(unsealed), trust)
    sealed = signature.sealed_bytes(unsealed)
    assert verify(etree.fromstring(sealed), trust).client.id == who.split("_")[0]
    value = find(unsigned, ".//ds:SignatureValue").text
    assert sealed == unsealed.replace(
        b"<ds:SignatureValue/>", f"<ds:SignatureValue>{value}</ds:SignatureValue>".encode()
    )
    with pytest.raises(ValueError, match="before it was sealed"):
        signature.sealed_bytes(unsealed)  # sealed once only


def test_a_body_holding_an_empty_signature_value_of_its_own_is_left_as_it_is(pki, trust):
    unsigned = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}" xmlns:ds="{ns.DS}"><soap:Body>'
        f'<e:EchoRequest xmlns:e="{ECHO}"><e:Text>hi</e:Text><ds:SignatureValue/></e:EchoRequest>'
        "</soap:Body></soap:Envelope>"
    )
    signature = prepare_signature(unsigned, pki.pojazd.identity, now=NOW)
    unsealed = etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    assert unsealed.count(b"<ds:SignatureValue/>") == 2
    sealed = signature.sealed_bytes(unsealed)
    assert sealed == etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    assert verify(etree.fromstring(sealed), trust).client.id == "pojazd"


def test_only_the_unsealed_bytes_of_its_own_envelope_are_sealed(pki):
    signature = prepare_signature(envelope(), pki.pojazd.identity, now=NOW)
    with pytest.raises(ValueError, match="not the serialised envelope"):
        signature.sealed_bytes(etree.tostring(envelope()))


def test_signature_method_must_fit_the_key(pki):
    with pytest.raises(ValueError, match="does not fit the key"):
        sign_envelope(envelope(), pki.word_ec.identity, signature_method="rsa-sha256", now=NOW)


def test_a_fault_answer_is_signed_with_the_same_profile(pki):
    fault = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"><soap:Body><soap:Fault>'
        "<faultcode>soap:Client.NotFound</faultcode><faultstring>No such coupon.</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    hub_as_peer = TrustStore([TrustedClient(id="hub", kind="HUB", cert=pki.hub.identity.cert)])
    verified = verify(sign_envelope(fault, pki.hub.identity, now=NOW), hub_as_peer)
    assert verified.body.findtext("soap:Fault/faultstring", namespaces=NSMAP) == "No such coupon."


def test_ttl_sets_expires(pki, trust):
    verified = verify(signed(pki.pojazd, ttl_s=60), trust)
    assert verified.expires - verified.created == timedelta(seconds=60)


def test_comment_inside_signed_text_cannot_change_what_the_service_reads(pki, trust):
    """Exclusive c14n drops comments, so `1<!---->00` still verifies: the service must read 100.00."""
    message = signed(pki.pojazd)
    amount = find(message, "soap:Body/e:EchoRequest/e:Amount")
    amount.text = "1"
    amount.append(etree.Comment(""))
    amount[0].tail = "00.00"
    verified = verify(message, trust)
    assert verified.body.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) == "100.00"


def test_signature_keys_differ_between_messages(pki, trust):
    first = verify(signed(pki.pojazd), trust).signature_key
    second = verify(signed(pki.pojazd, now=NOW + timedelta(seconds=1)), trust, now=NOW).signature_key
    assert first != second


def test_every_message_has_its_own_header_even_when_copies_are_made_ahead(pki, trust):
    """The template's copies are made when a message is sealed and taken by the next ones
    prepared, by several threads at once: no two messages share a header or its ids."""
    prepared = [prepare_signature(envelope(), pki.pojazd.identity, now=NOW) for _ in range(3)]
    for signature in prepared:
        signature.seal()  # each makes a copy ahead
    messages = [signed(pki.pojazd) for _ in range(3)]  # taken from those copies
    with ThreadPoolExecutor(4) as pool:
        messages += list(pool.map(lambda _: signed(pki.pojazd), range(40)))
    ids = [find(m, ".//wsu:Timestamp").get(f"{{{ns.WSU}}}Id") for m in messages]
    ids += [find(m, ".//wsse:BinarySecurityToken").get(f"{{{ns.WSU}}}Id") for m in messages]
    assert len(set(ids)) == len(ids) == 2 * 43
    for m in messages:
        token_id = find(m, ".//wsse:BinarySecurityToken").get(f"{{{ns.WSU}}}Id")
        assert find(m, ".//wsse:SecurityTokenReference/wsse:Reference").get("URI") == f"#{token_id}"
        assert verify(m, trust).client.id == "pojazd"


def test_allow_listed_policy_is_frozen():
    with pytest.raises(AttributeError):
        SignaturePolicy().clock_skew_s = 1  # type: ignore[misc]


# --- the hub's answers verify with xmlsec1 and with zeep ---------------------------------------


@pytest.mark.parametrize("who", ["hub", "word_ec"])
def test_signed_envelope_verifies_with_xmlsec1(pki, tmp_path, who):
    require_tool(shutil.which("xmlsec1") is not None, "the xmlsec1 command (apt-get install xmlsec1)")
    party = getattr(pki, who)
    path = tmp_path / "signed.xml"
    path.write_bytes(etree.tostring(sign_envelope(envelope(), party.identity)))
    command = ["xmlsec1", "--verify", "--id-attr:Id", "Body", "--id-attr:Id", "Timestamp"]
    result = subprocess.run(
        [*command, "--pubkey-cert-pem", str(party.cert_path), str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "SignedInfo References (ok/all): 2/2" in result.stderr


def test_xmlsec1_refuses_a_tampered_envelope(pki, tmp_path):
    """The same xmlsec1 call, to show the check above can fail."""
    require_tool(shutil.which("xmlsec1") is not None, "the xmlsec1 command (apt-get install xmlsec1)")
    message = sign_envelope(envelope(), pki.hub.identity)
    find(message, "soap:Body/e:EchoRequest/e:Amount").text = "999.00"
    path = tmp_path / "tampered.xml"
    path.write_bytes(etree.tostring(message))
    command = ["xmlsec1", "--verify", "--id-attr:Id", "Body", "--id-attr:Id", "Timestamp"]
    result = subprocess.run(
        [*command, "--pubkey-cert-pem", str(pki.hub.cert_path), str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0


@pytest.mark.parametrize("who", ["hub", "word_ec"])
def test_signed_envelope_verifies_with_zeep(pki, who):
    signature = zeep_signature()
    party = getattr(pki, who)
    message = etree.fromstring(etree.tostring(sign_envelope(envelope(), party.identity)))
    signature.BinarySignature(str(party.key_path), str(party.cert_path)).verify(message)


def test_zeep_refuses_a_tampered_envelope(pki):
    signature = zeep_signature()
    from zeep.exceptions import SignatureVerificationFailed

    message = sign_envelope(envelope(), pki.hub.identity)
    find(message, "soap:Body/e:EchoRequest/e:Amount").text = "999.00"
    with pytest.raises(SignatureVerificationFailed):
        signature.BinarySignature(str(pki.hub.key_path), str(pki.hub.cert_path)).verify(message)


def zeep_signature():
    """zeep.wsse.signature, which needs the `xmlsec` Python package (a binding of libxmlsec1)."""
    from zeep.wsse import signature

    require_tool(signature.xmlsec is not None, "the xmlsec Python package (pip install xmlsec)")
    return signature


def test_memory_replay_cache_forgets_after_expiry():
    clock = [NOW]
    cache = MemoryReplayCache(lambda: clock[0])
    assert cache.remember("k", NOW + timedelta(seconds=10))
    assert not cache.remember("k", NOW + timedelta(seconds=10))
    clock[0] = NOW + timedelta(seconds=11)
    assert cache.remember("k", NOW + timedelta(seconds=20))
