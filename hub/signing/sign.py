"""Sign a SOAP 1.1 envelope with the contract's WS-Security profile (section 2).

The result, inside `soap:Header`:

    <wsse:Security soap:mustUnderstand="1">
      <wsu:Timestamp wsu:Id="TS-..."> Created, Expires </wsu:Timestamp>
      <wsse:BinarySecurityToken wsu:Id="X509-..." ValueType="...#X509v3" EncodingType="...#Base64Binary"/>
      <ds:Signature>  exclusive c14n; RSA-SHA256 or ECDSA-SHA256; SHA-256 digests;
                      references #Body-id and #TS-id; KeyInfo -> SecurityTokenReference -> #X509-id
    </wsse:Security>

The wsse:Security header is built once per signing identity (`_Template`: the token, the
algorithms, every element of ds:Signature) and copied for each message, which gets its ids,
times, the two digests and the SignatureValue. `prepare_signature` does all but the last, the
key's work, which `Unsealed` does later: the hub records its answer in between
(hub.services.endpoint). Every signed byte is exclusive c14n computed in place
(hub.signing.c14n), as a verifier computes it: the same bytes wherever the Signature sits.
signxml, which signed before, stays the oracle: answers signed here verify with signxml and
xmlsec1 (tests/signing/test_differential.py).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from hub import ns
from hub.signing.c14n import canonicalize
from hub.signing.keys import SigningIdentity
from hub.signing.policy import ECDSA_SHA256, RSA_SHA256, SHA256

NSMAP = {"wsse": ns.WSSE, "wsu": ns.WSU}
WSU_ID = etree.QName(ns.WSU, "Id").text
SIGNATURE_METHODS = {"rsa-sha256": RSA_SHA256, "ecdsa-sha256": ECDSA_SHA256}
SECURITY = f"{{{ns.WSSE}}}Security"
WSSE, WSU, DS = f"{{{ns.WSSE}}}", f"{{{ns.WSU}}}", f"{{{ns.DS}}}"


def sign_envelope(
    envelope: etree._Element,
    identity: SigningIdentity,
    *,
    signature_method: str | None = None,
    ttl_s: int = 300,
    now: datetime | None = None,
) -> etree._Element:
    """Sign `envelope` in place and return it.

    `signature_method` is "rsa-sha256" or "ecdsa-sha256" (or its URI); None picks the one that
    fits the identity's key. `now` (timezone-aware) is the Timestamp's Created; Expires is
    Created + ttl_s.
    """
    unsealed = prepare_signature(envelope, identity, signature_method=signature_method, ttl_s=ttl_s, now=now)
    unsealed.seal()
    return envelope


def prepare_signature(
    envelope: etree._Element,
    identity: SigningIdentity,
    *,
    signature_method: str | None = None,
    ttl_s: int = 300,
    now: datetime | None = None,
) -> Unsealed:
    """`sign_envelope` but for the SignatureValue: the wsse:Security header in place, with its
    Timestamp, token, digests and SignedInfo, everything the signature covers; `seal()` adds the
    SignatureValue, the key's work (RSA: most of signing's cost). The hub records its answer
    between the two, so the key's work is not done while the record's transaction holds the
    database (hub.services.endpoint)."""
    method = _method_uri(identity, signature_method)
    now = now or datetime.now(UTC)
    header, body = _header_and_body(envelope)
    if header.find(SECURITY) is not None:
        raise ValueError("the envelope already has a wsse:Security header")
    template = _template(identity, method)
    security = template.copy()
    header.insert(0, security)
    timestamp, _, signature = security
    timestamp[0].text = format_time(now)
    timestamp[1].text = format_time(now + timedelta(seconds=ttl_s))
    body_id = _ensure_id(body, "Body")
    signed_info, signature_value, _ = signature
    for reference, element_id, element in (
        (signed_info[2], body_id, body),
        (signed_info[3], timestamp.get(WSU_ID), timestamp),
    ):
        reference.set("URI", f"#{element_id}")
        reference[2].text = _b64(hashlib.sha256(canonicalize(element, None)).digest())
    return Unsealed(identity, signed_info, signature_value, template)


UNSEALED_VALUE = b"<ds:SignatureValue/>"  # how an envelope from `prepare_signature` serialises it


class Unsealed:
    """An envelope signed but for its SignatureValue (`prepare_signature`)."""

    def __init__(
        self, identity: SigningIdentity, signed_info: etree._Element, value: etree._Element, template: _Template
    ) -> None:
        self._identity, self._signed_info, self._value, self._template = identity, signed_info, value, template

    def seal(self) -> str:
        """Computes the SignatureValue over the SignedInfo and sets it: the envelope is signed.
        Returns the value, base64. Then makes the template's next copy (`_Template.restock`)."""
        value: str | None = self._value.text
        if value is None:
            value = self._value.text = _b64(_signature_value(self._identity, canonicalize(self._signed_info, None)))
            self._template.restock()
        return value

    def sealed_bytes(self, unsealed: bytes) -> bytes:
        """`unsealed`, the envelope serialised before `seal()`, with the SignatureValue in it:
        the bytes serialising the sealed envelope gives, without serialising it again. Ours is
        the first empty SignatureValue in them: wsse:Security is the soap:Header's first child,
        and before its ds:Signature come only start tags, the Timestamp and the token (a Body,
        after it, may hold one of its own; a comment before the Header could, and the envelopes
        sealed here, the hub's answers as spyne writes them, have none)."""
        if self._value.text is not None or UNSEALED_VALUE not in unsealed:
            raise ValueError("not the serialised envelope of this signature, before it was sealed")
        value = self.seal().encode("ascii")
        return unsealed.replace(UNSEALED_VALUE, b"<ds:SignatureValue>" + value + b"</ds:SignatureValue>", 1)


def format_time(moment: datetime) -> str:
    """xs:dateTime in UTC with Z and milliseconds, as the contract writes time."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


SPARE_COPIES = 8  # a _Template's copies made ahead: as many as a worker has threads, and more


class _Template:
    """The wsse:Security header of one identity and signature method, everything filled in
    but ids, times, digests and the SignatureValue; copied for each message, with its own ids.
    The copies are made ahead, after a message is sealed (`restock`), and taken when the next
    is prepared (`copy`): the hub prepares an answer's signature inside a state change's
    transaction (on SQLite the writers' lock), and seals it after the commit. Threads share a
    template: a list's append and pop are atomic."""

    def __init__(self, identity: SigningIdentity, method: str) -> None:
        security = etree.Element(SECURITY, nsmap=NSMAP)
        security.set(f"{{{ns.SOAP_ENV_11}}}mustUnderstand", "1")
        timestamp = etree.SubElement(security, WSU + "Timestamp")
        etree.SubElement(timestamp, WSU + "Created")
        etree.SubElement(timestamp, WSU + "Expires")
        token = etree.SubElement(
            security, WSSE + "BinarySecurityToken", ValueType=ns.X509_TOKEN_V3, EncodingType=ns.BASE64_ENCODING
        )
        token.text = _b64(identity.cert_der)
        signature = etree.SubElement(security, DS + "Signature", nsmap={"ds": ns.DS})
        signed_info = etree.SubElement(signature, DS + "SignedInfo")
        etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=ns.EXC_C14N)
        etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=method)
        for _ in range(2):  # the Body, then the Timestamp
            reference = etree.SubElement(signed_info, DS + "Reference", URI="")
            transforms = etree.SubElement(reference, DS + "Transforms")
            etree.SubElement(transforms, DS + "Transform", Algorithm=ns.EXC_C14N)
            etree.SubElement(reference, DS + "DigestMethod", Algorithm=SHA256)
            etree.SubElement(reference, DS + "DigestValue")
        etree.SubElement(signature, DS + "SignatureValue")
        key_info = etree.SubElement(signature, DS + "KeyInfo")
        pointer = etree.SubElement(key_info, WSSE + "SecurityTokenReference")
        etree.SubElement(pointer, WSSE + "Reference", URI="", ValueType=ns.X509_TOKEN_V3)
        self.security = security
        self._spares: list[etree._Element] = []

    def copy(self) -> etree._Element:
        """A copy with its own Timestamp and token ids, the token's reference pointing at it."""
        try:
            return self._spares.pop()
        except IndexError:
            return self._fresh()

    def restock(self) -> None:
        if len(self._spares) < SPARE_COPIES:
            self._spares.append(self._fresh())

    def _fresh(self) -> etree._Element:
        security = copy.deepcopy(self.security)  # lxml's deepcopy only reads the template
        timestamp, token, signature = security
        timestamp.set(WSU_ID, f"TS-{uuid.uuid4().hex}")
        token_id = f"X509-{uuid.uuid4().hex}"
        token.set(WSU_ID, token_id)
        signature[2][0][0].set("URI", f"#{token_id}")  # KeyInfo/SecurityTokenReference/Reference
        return security


@functools.lru_cache(maxsize=32)
def _template(identity: SigningIdentity, method: str) -> _Template:
    """One template per identity (loaded once per process) and method, shared by threads."""
    return _Template(identity, method)


def _signature_value(identity: SigningIdentity, signed_info: bytes) -> bytes:
    """RSA PKCS#1 v1.5 or ECDSA over the canonical SignedInfo, SHA-256; ECDSA as XML
    Signature writes it, r || s, each as wide as the curve."""
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(signed_info, ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _method_uri(identity: SigningIdentity, signature_method: str | None) -> str:
    wanted = signature_method or identity.signature_method
    uri = SIGNATURE_METHODS.get(wanted, wanted)
    if uri != SIGNATURE_METHODS[identity.signature_method]:
        raise ValueError(f"signature method {wanted} does not fit the key ({identity.signature_method})")
    return uri


def _header_and_body(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    if envelope.tag != f"{{{ns.SOAP_ENV_11}}}Envelope":
        raise ValueError(f"not a SOAP 1.1 Envelope: {envelope.tag}")
    body = envelope.find(f"{{{ns.SOAP_ENV_11}}}Body")
    if body is None:
        raise ValueError("the envelope has no soap:Body")
    header = envelope.find(f"{{{ns.SOAP_ENV_11}}}Header")
    if header is None:
        header = etree.Element(f"{{{ns.SOAP_ENV_11}}}Header")
        envelope.insert(0, header)
    return header, body


def _ensure_id(element: etree._Element, prefix: str) -> str:
    existing: str | None = element.get(WSU_ID)
    if existing:
        return existing
    element_id = f"{prefix}-{uuid.uuid4().hex}"
    element.set(WSU_ID, element_id)
    return element_id
