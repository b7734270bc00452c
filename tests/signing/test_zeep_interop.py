"""zeep on both sides: a plain zeep BinarySignature client is accepted (contract section 2), and
HubSignature, the hub's own zeep plugin, signs requests and verifies answers strictly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.exceptions import SignatureVerificationFailed
from zeep.transports import Transport
from zeep.wsdl.utils import etree_to_string
from zeep.wsse import utils as wsse_utils
from zeep.wsse.compose import Compose

from hub import ns
from hub.signing import (
    FailedAuthentication,
    InvalidSecurity,
    MemoryReplayCache,
    SignaturePolicy,
    UnsupportedAlgorithm,
    sign_envelope,
    verify_envelope,
)
from hub.signing.policy import RSA_SHA256, SHA256
from hub.signing.zeep_plugin import HubSignature
from hub.xmlsafe import parse_xml
from tests.support.signing import BYTES_MAX, DEPTH_MAX, ECHO, NSMAP, find, require_tool

WSDL = Path(__file__).with_name("echo.wsdl")


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def xmlsec():
    """zeep.wsse.signature needs the `xmlsec` Python package (a binding of libxmlsec1)."""
    from zeep.wsse import signature

    require_tool(signature.xmlsec is not None, "the xmlsec Python package (pip install xmlsec)")
    return signature.xmlsec


class ZeepTimestamp:
    """The Timestamp a zeep user adds before BinarySignature: zeep has no plugin for it."""

    def apply(self, envelope, headers):
        created = utc_now()
        timestamp = wsse_utils.WSU.Timestamp(
            wsse_utils.WSU.Created(wsse_utils.get_timestamp(created, zulu_timestamp=True)),
            wsse_utils.WSU.Expires(wsse_utils.get_timestamp(created + timedelta(minutes=5), zulu_timestamp=True)),
        )
        wsse_utils.get_security_header(envelope).append(timestamp)
        return envelope, headers

    def verify(self, envelope):
        return envelope


def zeep_request(party, xmlsec, timestamp=True, **signature_options) -> bytes:
    """A request exactly as a plain zeep client with BinarySignature sends it."""
    from zeep.wsse.signature import BinarySignature

    signature = BinarySignature(str(party.key_path), str(party.cert_path), **signature_options)
    client = Client(str(WSDL), wsse=Compose([ZeepTimestamp(), signature] if timestamp else [signature]))
    message = client.create_message(client.service, "Echo", Text="hi", Amount=Decimal("100.00"))
    return etree_to_string(message)


def hub_verify(request: bytes, trust, replay=None):
    envelope = parse_xml(request, bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)
    return verify_envelope(envelope, trust, SignaturePolicy(), replay or MemoryReplayCache(), utc_now())


# --- a plain zeep client calling the hub --------------------------------------------------------


def test_zeep_binary_signature_rsa_sha256_with_timestamp_is_accepted(pki, trust, xmlsec):
    request = zeep_request(
        pki.pojazd, xmlsec, signature_method=xmlsec.Transform.RSA_SHA256, digest_method=xmlsec.Transform.SHA256
    )
    verified = hub_verify(request, trust)
    assert verified.client.id == "pojazd"
    assert verified.body.findtext("e:EchoRequest/e:Amount", namespaces=NSMAP) == "100.00"


def test_zeep_binary_signature_ecdsa_sha256_is_accepted(pki, trust, xmlsec):
    request = zeep_request(
        pki.word_ec, xmlsec, signature_method=xmlsec.Transform.ECDSA_SHA256, digest_method=xmlsec.Transform.SHA256
    )
    assert hub_verify(request, trust).client.id == "word"


def test_zeep_default_rsa_sha1_is_refused(pki, trust, xmlsec):
    with pytest.raises(UnsupportedAlgorithm, match="rsa-sha1 is not allowed for this client"):
        hub_verify(zeep_request(pki.pojazd, xmlsec), trust)


def test_zeep_default_rsa_sha1_is_accepted_for_a_client_that_allows_it(pki, trust, xmlsec):
    assert hub_verify(zeep_request(pki.legacy, xmlsec), trust).client.id == "legacy"


def test_zeep_sha256_signature_with_sha1_digests_is_refused(pki, trust, xmlsec):
    request = zeep_request(pki.pojazd, xmlsec, signature_method=xmlsec.Transform.RSA_SHA256)
    with pytest.raises(UnsupportedAlgorithm, match="digest method .*sha1 is not allowed"):
        hub_verify(request, trust)


def test_zeep_without_timestamp_is_refused(pki, trust, xmlsec):
    request = zeep_request(
        pki.pojazd,
        xmlsec,
        timestamp=False,
        signature_method=xmlsec.Transform.RSA_SHA256,
        digest_method=xmlsec.Transform.SHA256,
    )
    with pytest.raises(InvalidSecurity, match="no wsu:Timestamp"):
        hub_verify(request, trust)


def test_zeep_request_sent_twice_is_a_replay(pki, trust, xmlsec):
    request = zeep_request(
        pki.pojazd, xmlsec, signature_method=xmlsec.Transform.RSA_SHA256, digest_method=xmlsec.Transform.SHA256
    )
    replay = MemoryReplayCache()
    hub_verify(request, trust, replay)
    with pytest.raises(InvalidSecurity, match="replay"):
        hub_verify(request, trust, replay)


# --- the hub as a zeep client, with HubSignature -----------------------------------------------


class Loopback(Transport):
    """A zeep Transport that hands the request to a function instead of the network."""

    def __init__(self, serve):
        super().__init__()
        self.serve = serve
        self.sent: list[bytes] = []

    def post_xml(self, address, envelope, headers):
        request = etree_to_string(envelope)
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response._content = self.serve(request)
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        return response


def echo_service(pki, trust, signer=None, tamper=None):
    """A peer that verifies the request, echoes it in a signed answer, optionally tampered."""
    replay = MemoryReplayCache()

    def serve(request: bytes) -> bytes:
        verified = hub_verify(request, trust, replay)
        echoed = verified.body.find("e:EchoRequest", NSMAP)
        echoed.tag = f"{{{ECHO}}}EchoResponse"
        answer = etree.fromstring(f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"><soap:Body/></soap:Envelope>')
        find(answer, "soap:Body").append(echoed)
        sign_envelope(answer, (signer or pki.hub).identity)
        if tamper:
            tamper(answer)
        return etree.tostring(answer)

    return serve


def hub_client(pki, serve) -> tuple[Client, Loopback]:
    transport = Loopback(serve)
    plugin = HubSignature.pinned(pki.pojazd.identity, pki.hub.identity.cert, "hub")
    return Client(str(WSDL), transport=transport, wsse=plugin), transport


def test_hub_signature_round_trip(pki, trust):
    client, transport = hub_client(pki, echo_service(pki, trust))
    answer = client.service.Echo(Text="hi", Amount=Decimal("161.50"))
    assert (answer.Text, answer.Amount) == ("hi", Decimal("161.50"))
    request = etree.fromstring(transport.sent[0])
    assert find(request, ".//ds:SignatureMethod").get("Algorithm") == RSA_SHA256
    assert {d.get("Algorithm") for d in request.iterfind(".//ds:DigestMethod", NSMAP)} == {SHA256}
    assert find(request, ".//wsse:Security/wsu:Timestamp") is not None


def test_hub_signature_refuses_an_answer_signed_by_another_key(pki, trust):
    client, _ = hub_client(pki, echo_service(pki, trust, signer=pki.pojazd))
    with pytest.raises(SignatureVerificationFailed, match="FailedAuthentication") as caught:
        client.service.Echo(Text="hi", Amount=Decimal("1.00"))
    assert isinstance(caught.value.__cause__, FailedAuthentication)


def test_hub_signature_refuses_a_wrapped_answer(pki, trust):
    client, _ = hub_client(pki, echo_service(pki, trust, tamper=wrap_answer))
    with pytest.raises(SignatureVerificationFailed, match="2 soap:Body elements"):
        client.service.Echo(Text="hi", Amount=Decimal("1.00"))


def test_hub_signature_refuses_a_tampered_answer(pki, trust):
    def tamper(answer):
        find(answer, "soap:Body/e:EchoResponse/e:Amount").text = "999999.00"

    client, _ = hub_client(pki, echo_service(pki, trust, tamper=tamper))
    with pytest.raises(SignatureVerificationFailed, match="FailedCheck"):
        client.service.Echo(Text="hi", Amount=Decimal("1.00"))


class SignWithHubVerifyWithZeep:
    """A zeep client that signs like the hub but verifies answers with zeep's own BinarySignature."""

    def __init__(self, signer, verifier):
        self.signer, self.verifier = signer, verifier

    def apply(self, envelope, headers):
        return self.signer.apply(envelope, headers)

    def verify(self, envelope):
        return self.verifier.verify(envelope)


def wrap_answer(answer):
    """The signed Body goes into a header element; a forged Body takes its place."""
    body = find(answer, "soap:Body")
    forged = etree.fromstring(etree.tostring(body))
    del forged.attrib[f"{{{ns.WSU}}}Id"]
    find(forged, "e:EchoResponse/e:Amount").text = "999999.00"
    etree.SubElement(find(answer, "soap:Header"), "{urn:evil}Wrapper").append(body)
    answer.append(forged)


def test_plain_zeep_accepts_the_same_wrapped_answer(pki, trust, xmlsec):
    """Why HubSignature exists: zeep's own verify passes the wrapped answer and reads the forgery."""
    from zeep.wsse.signature import BinarySignature

    wsse = SignWithHubVerifyWithZeep(
        HubSignature.pinned(pki.pojazd.identity, pki.hub.identity.cert, "hub"),
        BinarySignature(str(pki.hub.key_path), str(pki.hub.cert_path)),
    )
    client = Client(str(WSDL), transport=Loopback(echo_service(pki, trust, tamper=wrap_answer)), wsse=wsse)
    assert client.service.Echo(Text="hi", Amount=Decimal("1.00")).Amount == Decimal("999999.00")
