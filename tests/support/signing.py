"""Helpers for the hub.signing tests: envelopes, sign and verify shortcuts, paths."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from hub import ns
from hub.signing import (
    MemoryReplayCache,
    SignaturePolicy,
    SigningIdentity,
    TrustStore,
    devcerts,
    sign_envelope,
    verify_envelope,
)
from hub.xmlsafe import parse_xml

NOW = datetime.now(UTC).replace(microsecond=0)
ECHO = "urn:test:echo"
KIEROWCA_DN = "CN=Kierowca 1261,O=Urzad Miasta Krakowa,C=PL"
BYTES_MAX = 1_000_000
DEPTH_MAX = 64
NSMAP = {"soap": ns.SOAP_ENV_11, "wsse": ns.WSSE, "wsu": ns.WSU, "ds": ns.DS, "e": ECHO}


def require_tool(available: bool, what: str) -> None:
    """Skip when a tool is missing on a developer's machine; in CI (CI=true) that is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@dataclass(frozen=True)
class Party:
    """Someone who signs: the identity, and its key and certificate as PEM files."""

    identity: SigningIdentity
    key_path: Path
    cert_path: Path


def party(directory: Path, stem: str, key, cert) -> Party:
    key_path, cert_path = devcerts.write_pem(directory, stem, key, cert)
    return Party(SigningIdentity(key, cert), key_path, cert_path)


def client_entry(id, kind, cert=None, ca=None, subject=None, offices=(), company_nip=None, allow_sha1=False):
    """The duck-typed shape of a config Client, as the config layer will pass it."""
    return SimpleNamespace(
        id=id, kind=kind, cert=cert, ca=ca, subject=subject, offices=offices,
        company_nip=company_nip, allow_sha1=allow_sha1,
    )  # fmt: skip


def envelope(text: str = "hi", amount: str = "100.00", header: bool = False) -> etree._Element:
    """An unsigned request envelope, as a client builds it."""
    head = "<soap:Header/>" if header else ""
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}">{head}<soap:Body>'
        f'<e:EchoRequest xmlns:e="{ECHO}"><e:Text>{text}</e:Text><e:Amount>{amount}</e:Amount></e:EchoRequest>'
        "</soap:Body></soap:Envelope>"
    )


def signed(party: Party, now: datetime = NOW, unsigned: etree._Element | None = None, **options) -> etree._Element:
    """A signed envelope, re-parsed from its bytes as the receiver would get it."""
    return reparse(sign_envelope(unsigned if unsigned is not None else envelope(), party.identity, now=now, **options))


def reparse(element: etree._Element) -> etree._Element:
    return parse_xml(etree.tostring(element), bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)


def verify(element: etree._Element, trust: TrustStore, now: datetime = NOW, replay=None, policy=None):
    """verify_envelope on the element's bytes, with a fresh replay cache unless one is given."""
    return verify_envelope(
        reparse(element), trust, policy or SignaturePolicy(), replay or MemoryReplayCache(lambda: now), now
    )


def refused(message, trust, fault, fragment, **options):
    """Assert verify() raises exactly `fault` with `fragment` in its message."""
    with pytest.raises(fault) as caught:
        verify(message, trust, **options)
    assert type(caught.value) is fault
    assert fragment in caught.value.message, caught.value.message
    return caught.value


def find(element: etree._Element, path: str) -> etree._Element:
    """One element by a path with the prefixes of NSMAP."""
    found = element.find(path, NSMAP)
    assert found is not None, path
    return found


def signed_like_wss4j(
    party: Party,
    signed_info=("o", "soap"),
    timestamp=("wsse", "o", "soap"),
    body=("o",),
    unsigned=None,
    now: datetime = NOW,
):
    """A signed envelope whose exc-c14n carries `ec:InclusiveNamespaces PrefixList`, as WSS4J,
    CXF, Metro and WCF write it (the prefix lists WSS4J writes for an office request by default),
    re-parsed from its bytes. `None` leaves that list out."""
    from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, SignatureReference, XMLSigner, methods

    message = sign_envelope(unsigned if unsigned is not None else envelope(), party.identity, now=now)
    security = message.find(f".//{{{ns.WSSE}}}Security")
    old = security.find(f"{{{ns.DS}}}Signature")
    security.remove(old)
    ids = {
        tag: message.find(f".//{tag}").get(f"{{{ns.WSU}}}Id")
        for tag in (f"{{{ns.WSU}}}Timestamp", f"{{{ns.SOAP_ENV_11}}}Body")
    }
    references = [
        SignatureReference(
            URI=f"#{ids[f'{{{ns.WSU}}}Timestamp']}", inclusive_ns_prefixes=list(timestamp) if timestamp else None
        ),
        SignatureReference(
            URI=f"#{ids[f'{{{ns.SOAP_ENV_11}}}Body']}", inclusive_ns_prefixes=list(body) if body else None
        ),
    ]
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm=SignatureMethod(
            f"http://www.w3.org/2001/04/xmldsig-more#{party.identity.signature_method}"
        ),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    key_info = old.find(f"{{{ns.DS}}}KeyInfo")
    signature = signer.sign(
        message, key=party.identity.private_key, reference_uri=references, key_info=key_info,
        inclusive_ns_prefixes=list(signed_info) if signed_info else None,
    )  # fmt: skip
    security.append(signature)
    _resign_in_place(
        signature,
        party,
        list(signed_info) if signed_info else None,
        {r.URI: r.inclusive_ns_prefixes for r in references},
    )
    return reparse(message)


def _resign_in_place(
    signature: etree._Element, party: Party, prefixes: list[str] | None, reference_prefixes: dict[str, list[str] | None]
) -> None:
    """signxml signs SignedInfo outside the document, where the PrefixList's prefixes are not in
    scope, and (through lxml) drops `#default` from a PrefixList; a Java stack signs in place and
    honours it. Digest the references and sign SignedInfo again where they now are."""
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    from hub.signing.c14n import canonicalize

    root = signature.getroottree().getroot()
    for reference in signature.iterfind(f"{{{ns.DS}}}SignedInfo/{{{ns.DS}}}Reference"):
        uri = reference.get("URI")
        element = root.xpath("//*[@wsu:Id=$id]", id=uri[1:], namespaces={"wsu": ns.WSU})[0]
        digest = hashlib.sha256(canonicalize(element, reference_prefixes[uri])).digest()
        reference.find(f"{{{ns.DS}}}DigestValue").text = base64.b64encode(digest).decode()
    data = canonicalize(signature.find(f"{{{ns.DS}}}SignedInfo"), prefixes)
    key = party.identity.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        value = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        value = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signature.find(f"{{{ns.DS}}}SignatureValue").text = base64.b64encode(value).decode()


def office_style_envelope() -> etree._Element:
    """An unsigned request whose payload prefix is declared on the Envelope, as Java stacks write it."""
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}" xmlns:o="{ECHO}"><soap:Header/><soap:Body>'
        "<o:EchoRequest><o:Text>hi</o:Text><o:Amount>100.00</o:Amount></o:EchoRequest></soap:Body></soap:Envelope>"
    )
