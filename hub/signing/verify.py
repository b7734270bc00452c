"""Verify a signed SOAP envelope STRICTLY, and hand the service only what was signed.

A valid signature is not enough: zeep, xmlsec1 and plain signxml all accept signature wrapping
(the signed Body moved elsewhere, an unsigned Body put where the service reads). So the elements
are first located at their fixed places, every id is unique, and the signature must reference
exactly those elements; after the cryptographic check the signed bytes are compared with them
again, and the service gets the Body re-parsed from the signed bytes (`VerifiedRequest.body`).

Checks in order, and the fault each raises:

| check                                                                   | fault                        |
| ----------------------------------------------------------------------- | ---------------------------- |
| root is soap:Envelope (SOAP 1.1)                                         | wsse:InvalidSecurity         |
| exactly one soap:Body in the document, child of Envelope                | wsse:InvalidSecurity         |
| soap:Header, wsse:Security, ds:Signature present (else "not signed")    | wsse:InvalidSecurity         |
| at most one Header; one Security, Timestamp, Signature in the document, | wsse:InvalidSecurity         |
|   each at its fixed place; at most one BinarySecurityToken, likewise    |                              |
| no id value twice (Id, ID, id attributes in any namespace)              | wsse:InvalidSecurity         |
| exactly two references: #id of the Body and #id of the Timestamp        | wsse:InvalidSecurity         |
| SignedInfo c14n and each reference's only transform: exclusive c14n     | wsse:UnsupportedAlgorithm    |
| ... holding nothing but one ec:InclusiveNamespaces with a PrefixList    | wsse:InvalidSecurity         |
| KeyInfo is one SecurityTokenReference holding one key reference         | wsse:InvalidSecurity         |
| ... of a kind the profile accepts (see `_key_reference`)                | wsse:SecurityTokenUnavailable |
| ... naming the message's BinarySecurityToken, or without a token, a     | wsse:SecurityTokenUnavailable |
|   pinned certificate (X509IssuerSerial, SubjectKeyIdentifier, Thumbprint)|                              |
| token is X509v3, base64 DER                                             | wsse:InvalidSecurityToken    |
| certificate belongs to a configured client, valid now                   | see hub.signing.trust        |
| signature and digest methods allowed (SHA-1 only if the client may)     | wsse:UnsupportedAlgorithm    |
| ds:Signature valid per the XML Signature and exc-c14n schemas           | wsse:InvalidSecurity         |
| signature and digests verify (exc-c14n in place, `cryptography`)       | wsse:FailedCheck             |
| signed bytes are the Body and Timestamp at their fixed places           | wsse:InvalidSecurity         |
| Timestamp has one Created and one Expires, xs:dateTime with a zone      | wsse:InvalidSecurity         |
| Created not beyond clock skew in the future, not older than the replay  | wsu:MessageExpired           |
|   window; Expires not passed                                            |                              |
| the signature was not seen before (replay cache)                        | wsse:InvalidSecurity         |

Exclusive c14n's `ec:InclusiveNamespaces PrefixList` (written by WSS4J, CXF, Metro, WCF) is read
and honoured in one place, hub.signing.c14n.

The cryptographic check is profile-narrow (`check_signature`): the shape checks above leave
exactly two references to two known elements, so their digests are computed over the exc-c14n
of those elements where they stand and the SignatureValue is checked over the canonical
SignedInfo with `cryptography`, instead of a general XML Signature library copying and
re-parsing the whole envelope for each reference. signxml stays the oracle: a differential
test (tests/signing/test_differential.py) holds this check, signxml and xmlsec1 to the same
verdict on generated messages.

A replay is InvalidSecurity, not FailedCheck: the signature is valid, processing the header
found the message already used. The replay key is the SHA-256 of the canonical SignedInfo, not of the
SignatureValue: an ECDSA signature (r, s) has a twin (r, n - s) that verifies too, and base64 text
can be respelled, so a key over the SignatureValue text could be dodged; SignedInfo (which holds
the digests of Body and Timestamp) cannot change without breaking the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from hub import ns
from hub.signing.c14n import canonicalize, prefix_list, signature_schema
from hub.signing.faults import (
    FailedCheck,
    InvalidSecurity,
    InvalidSecurityToken,
    MessageExpired,
    SecurityTokenUnavailable,
    UnsupportedAlgorithm,
)
from hub.signing.policy import ECDSA_SHA256, RSA_SHA1, RSA_SHA256, SHA1, SHA256, SignaturePolicy
from hub.signing.trust import (
    ISSUER_SERIAL,
    SUBJECT_KEY_IDENTIFIER,
    THUMBPRINT_SHA1,
    TrustedClient,
    TrustStore,
    certificate_key,
    issuer_serial_key,
)
from hub.xmlsafe import new_parser

ENVELOPE = f"{{{ns.SOAP_ENV_11}}}Envelope"
HEADER = f"{{{ns.SOAP_ENV_11}}}Header"
BODY = f"{{{ns.SOAP_ENV_11}}}Body"
SECURITY = f"{{{ns.WSSE}}}Security"
TOKEN = f"{{{ns.WSSE}}}BinarySecurityToken"
TOKEN_REFERENCE = f"{{{ns.WSSE}}}SecurityTokenReference"
WSSE_REFERENCE = f"{{{ns.WSSE}}}Reference"
TIMESTAMP = f"{{{ns.WSU}}}Timestamp"
CREATED = f"{{{ns.WSU}}}Created"
EXPIRES = f"{{{ns.WSU}}}Expires"
WSU_ID = f"{{{ns.WSU}}}Id"
SIGNATURE = f"{{{ns.DS}}}Signature"
KEY_IDENTIFIER = f"{{{ns.WSSE}}}KeyIdentifier"
X509_DATA = f"{{{ns.DS}}}X509Data"
X509_ISSUER_SERIAL = f"{{{ns.DS}}}X509IssuerSerial"
DS = {"ds": ns.DS}
# wsse:KeyIdentifier ValueTypes the profile accepts (X.509 Token Profile 1.0 and SOAP Message Security 1.1)
KEY_IDENTIFIER_TYPES = {
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
    "#X509SubjectKeyIdentifier": SUBJECT_KEY_IDENTIFIER,
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1": THUMBPRINT_SHA1,
}
ACCEPTED_KEY_REFERENCES = (
    "accepted are a wsse:Reference to the message's wsse:BinarySecurityToken, ds:X509Data/ds:X509IssuerSerial, "
    "or a wsse:KeyIdentifier of ValueType X509SubjectKeyIdentifier or ThumbprintSHA1 "
    "(these three for a client pinned by certificate in clients.toml)"
)
ID_ATTRIBUTE_NAMES = frozenset({"Id", "ID", "id"})  # any namespace; xml:id is "id" too
# What each signature method the policy may allow needs: the key type and the hash.
SIGNATURE_ALGORITHMS: dict[str, tuple[str, type[hashes.SHA256 | hashes.SHA1]]] = {
    RSA_SHA256: ("rsa", hashes.SHA256),
    ECDSA_SHA256: ("ec", hashes.SHA256),
    RSA_SHA1: ("rsa", hashes.SHA1),
}
DIGEST_ALGORITHMS: dict[str, Callable[[bytes], hashlib._Hash]] = {SHA256: hashlib.sha256, SHA1: hashlib.sha1}


def replayed() -> InvalidSecurity:
    """The refusal of a signature seen before (also raised by a caller that checks the
    replay cache itself, inside its own transaction: see `DeferredReplay`)."""
    return InvalidSecurity("This signed message was received before (replay); sign every message anew.")


@dataclass(frozen=True)
class VerifiedRequest:
    """What the service may read: nothing else of the envelope is trusted."""

    client: TrustedClient
    body: etree._Element  # the soap:Body, re-parsed from the signed bytes
    created: datetime
    expires: datetime
    signature_key: str  # hex SHA-256 of the canonical SignedInfo: the replay key, for the message log


class ReplayCache(Protocol):
    def remember(self, key: str, expires_at: datetime) -> bool:
        """Store `key` until `expires_at`; False if it was already there (a replay)."""


class MemoryReplayCache:
    """One process's replay cache, for tests and for checking answers in the zeep plugin.

    The hub's servers use the database-backed cache, shared by all processes.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._expiry: dict[str, datetime] = {}
        self._by_time: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def remember(self, key: str, expires_at: datetime) -> bool:
        with self._lock:
            self._forget_expired(self._clock())
            if key in self._expiry:
                return False
            self._expiry[key] = expires_at
            heapq.heappush(self._by_time, (expires_at, key))
            return True

    def _forget_expired(self, now: datetime) -> None:
        while self._by_time and self._by_time[0][0] < now:
            _, key = heapq.heappop(self._by_time)
            del self._expiry[key]


class DeferredReplay:
    """A replay cache that only takes note: `verify_envelope` passes, and the caller
    checks `key` against the shared cache itself, in the transaction that logs the
    request (raising `replayed()` for a key seen before)."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.expires_at: datetime | None = None

    def remember(self, key: str, expires_at: datetime) -> bool:
        self.key, self.expires_at = key, expires_at
        return True


@dataclass(frozen=True)
class _Parts:
    """The WS-Security elements, each found once at its fixed place."""

    body: etree._Element
    timestamp: etree._Element
    token: etree._Element | None  # absent when KeyInfo names a pinned certificate
    signature: etree._Element


@dataclass(frozen=True)
class _KeyReference:
    """What ds:KeyInfo says of the signing certificate: the id of the message's token
    (`token_uri`), or a name of the certificate (`kind`, `key`; `shown` for messages)."""

    token_uri: str | None = None
    kind: str = ""  # set when token_uri is None
    key: object = None
    shown: str = ""


@dataclass(frozen=True)
class SignedReference:
    """One ds:Reference, resolved to the element at its fixed place."""

    uri: str
    element: etree._Element
    prefixes: list[str] | None  # exclusive c14n InclusiveNamespaces PrefixList
    digest_method: str | None  # None when missing: the schema check refuses that


def verify_envelope(
    envelope: etree._Element,
    trust: TrustStore,
    policy: SignaturePolicy,
    replay: ReplayCache,
    now: datetime,
    *,
    check: SignatureCheck | None = None,
) -> VerifiedRequest:
    """Verify `envelope` (parsed by hub.xmlsafe) or raise the SecurityFault the table names.

    `check` is the cryptographic check, `check_signature` unless a test puts its oracle there."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parts = _locate(envelope)
    signed_info = _one(parts.signature, "ds:SignedInfo", "ds:Signature")
    references = _references(signed_info, parts, _index_ids(envelope))
    c14n_method = _check_canonicalization(signed_info, policy)
    cert = _signing_certificate(parts.token, _key_reference(parts.signature), trust)
    client = trust.identify(cert, now)
    _check_algorithms(signed_info, policy, client.allow_sha1)
    signed_info_c14n = canonicalize(signed_info, prefix_list(c14n_method))
    message = SignatureUnderCheck(parts.signature, signed_info, signed_info_c14n, references, cert, client.allow_sha1)
    signed = (check or check_signature)(message)
    created, expires = _read_timestamp(signed[id(parts.timestamp)])
    _check_freshness(created, expires, now, policy)
    signature_key = hashlib.sha256(signed_info_c14n).hexdigest()
    accepted_until = min(expires, created + timedelta(seconds=policy.replay_window_s))
    if not replay.remember(signature_key, accepted_until):
        raise replayed()
    return VerifiedRequest(client, signed[id(parts.body)], created, expires, signature_key)


# --- where things are ------------------------------------------------------------------------


def _locate(envelope: etree._Element) -> _Parts:
    if envelope.tag != ENVELOPE:
        raise InvalidSecurity(f"The message is not a SOAP 1.1 Envelope (root element {envelope.tag}).")
    body = _only(envelope, BODY, envelope, "soap:Envelope")
    if body is None:
        raise InvalidSecurity("The message has no soap:Body.")
    header = _only(envelope, HEADER, envelope, "soap:Envelope")
    security = None if header is None else _only(envelope, SECURITY, header, "soap:Header")
    if security is None:
        raise InvalidSecurity("The message is not signed: it has no wsse:Security header.")
    signature = _only(envelope, SIGNATURE, security, "wsse:Security")
    if signature is None:
        raise InvalidSecurity("The message is not signed: wsse:Security has no ds:Signature.")
    timestamp = _only(envelope, TIMESTAMP, security, "wsse:Security")
    if timestamp is None:
        raise InvalidSecurity("wsse:Security has no wsu:Timestamp; the profile requires one.")
    token = _only(envelope, TOKEN, security, "wsse:Security")
    return _Parts(body, timestamp, token, signature)


def _only(envelope: etree._Element, tag: str, parent: etree._Element, parent_name: str) -> etree._Element | None:
    """The one element `tag` in the whole document, required to be a child of `parent`."""
    found = list(envelope.iter(tag))
    if len(found) > 1:
        paths = ", ".join(_path(e) for e in found)
        raise InvalidSecurity(
            f"The message has {len(found)} {_prefixed(tag)} elements ({paths}); exactly one is allowed."
        )
    if found and found[0].getparent() is not parent:
        raise InvalidSecurity(f"{_prefixed(tag)} is at {_path(found[0])}; it must be a child of {parent_name}.")
    return found[0] if found else None


def _index_ids(envelope: etree._Element) -> dict[str, etree._Element]:
    """Every id value in the document; a value used twice is refused (the wrapping trick)."""
    ids: dict[str, etree._Element] = {}
    for element in envelope.iter(etree.Element):
        for name, value in element.attrib.items():
            if name.rpartition("}")[2] not in ID_ATTRIBUTE_NAMES:
                continue
            if value in ids:
                raise InvalidSecurity(
                    f"The id {value!r} appears more than once ({_path(ids[value])}, {_path(element)}); "
                    "ids must be unique."
                )
            ids[value] = element
    return ids


def _references(signed_info: etree._Element, parts: _Parts, ids: dict[str, etree._Element]) -> list[SignedReference]:
    nodes = signed_info.findall("ds:Reference", DS)
    required = "the signature must reference exactly the soap:Body and the wsu:Timestamp, by id"
    if len(nodes) != 2:
        raise InvalidSecurity(f"The signature has {len(nodes)} references; {required}.")
    references = []
    for node in nodes:
        uri = node.get("URI") or ""
        if not uri.startswith("#") or uri[1:] not in ids:
            raise InvalidSecurity(f"The signature reference {uri!r} names no element of the message; {required}.")
        digest_method = node.find("ds:DigestMethod", DS)
        references.append(
            SignedReference(
                uri,
                ids[uri[1:]],
                _reference_prefixes(node),
                None if digest_method is None else digest_method.get("Algorithm"),
            )
        )
    signed = {id(r.element) for r in references}
    if signed != {id(parts.body), id(parts.timestamp)}:
        paths = ", ".join(_path(r.element) for r in references)
        raise InvalidSecurity(f"The signature references {paths}; {required}.")
    return references


def _reference_prefixes(reference: etree._Element) -> list[str] | None:
    transform = reference.find("ds:Transforms/ds:Transform", DS)
    return None if transform is None else prefix_list(transform)


# --- algorithms and key -----------------------------------------------------------------------


def _check_canonicalization(signed_info: etree._Element, policy: SignaturePolicy) -> etree._Element:
    """SignedInfo's CanonicalizationMethod (returned) and each reference's one transform:
    exclusive c14n, with at most an InclusiveNamespaces PrefixList."""
    method = _one(signed_info, "ds:CanonicalizationMethod", "ds:SignedInfo")
    _require_c14n(method, policy, "The SignedInfo canonicalization")
    for reference in signed_info.findall("ds:Reference", DS):
        transforms = reference.findall("ds:Transforms/ds:Transform", DS)
        uri = reference.get("URI")
        if len(reference.findall("ds:Transforms", DS)) != 1 or len(transforms) != 1:
            algorithms = [t.get("Algorithm") for t in transforms]
            raise UnsupportedAlgorithm(
                f"Reference {uri} has the transforms {algorithms}; exactly one exclusive c14n "
                f"transform ({ns.EXC_C14N}) is allowed."
            )
        _require_c14n(transforms[0], policy, f"The transform of reference {uri}")
    return method


def _require_c14n(element: etree._Element, policy: SignaturePolicy, what: str) -> None:
    algorithm = element.get("Algorithm")
    if algorithm not in policy.c14n_methods:
        raise UnsupportedAlgorithm(f"{what} is {algorithm}; only exclusive c14n ({ns.EXC_C14N}) is allowed.")
    prefix_list(element)  # one InclusiveNamespaces at most, and nothing else


def _check_algorithms(signed_info: etree._Element, policy: SignaturePolicy, allow_sha1: bool) -> None:
    method = _one(signed_info, "ds:SignatureMethod", "ds:SignedInfo").get("Algorithm")
    if method not in policy.allowed_signature_methods(allow_sha1):
        raise UnsupportedAlgorithm(
            f"The signature method {method} is not allowed for this client; use RSA-SHA256 or ECDSA-SHA256."
        )
    for digest in signed_info.findall("ds:Reference/ds:DigestMethod", DS):
        algorithm = digest.get("Algorithm")
        if algorithm not in policy.allowed_digest_methods(allow_sha1):
            raise UnsupportedAlgorithm(f"The digest method {algorithm} is not allowed for this client; use SHA-256.")


def _key_reference(signature: etree._Element) -> _KeyReference:
    """What KeyInfo names: one KeyInfo, holding one SecurityTokenReference, holding one of the
    references the profile accepts."""
    key_info = _one(signature, "ds:KeyInfo", "ds:Signature")
    children = list(key_info.iterchildren(etree.Element))
    if len(children) != 1:
        raise InvalidSecurity("ds:KeyInfo must hold exactly one wsse:SecurityTokenReference.")
    if children[0].tag != TOKEN_REFERENCE:
        raise SecurityTokenUnavailable(f"ds:KeyInfo holds {_prefixed(children[0].tag)}; {ACCEPTED_KEY_REFERENCES}.")
    pointers = list(children[0].iterchildren(etree.Element))
    if len(pointers) != 1:
        raise InvalidSecurity(
            f"The wsse:SecurityTokenReference must hold exactly one reference; it holds {len(pointers)}."
        )
    pointer = pointers[0]
    if pointer.tag == WSSE_REFERENCE:
        value_type = pointer.get("ValueType")
        if value_type not in (None, ns.X509_TOKEN_V3):
            raise InvalidSecurityToken(f"The SecurityTokenReference asks for a {value_type} token; use X509v3.")
        return _KeyReference(token_uri=pointer.get("URI") or "")
    if pointer.tag == X509_DATA:
        return _issuer_serial(pointer)
    if pointer.tag == KEY_IDENTIFIER:
        return _key_identifier(pointer)
    raise SecurityTokenUnavailable(
        f"The SecurityTokenReference holds {_prefixed(pointer.tag)}; {ACCEPTED_KEY_REFERENCES}."
    )


def _issuer_serial(x509_data: etree._Element) -> _KeyReference:
    children = list(x509_data.iterchildren(etree.Element))
    if [c.tag for c in children] != [X509_ISSUER_SERIAL]:
        names = ", ".join(_prefixed(c.tag) for c in children) or "nothing"
        raise SecurityTokenUnavailable(
            f"The SecurityTokenReference's ds:X509Data holds {names}; {ACCEPTED_KEY_REFERENCES}."
        )
    issuer = children[0].findtext("ds:X509IssuerName", None, DS)
    serial = children[0].findtext("ds:X509SerialNumber", None, DS)
    if issuer is None or serial is None:
        raise InvalidSecurity("ds:X509IssuerSerial must hold ds:X509IssuerName and ds:X509SerialNumber.")
    try:
        key = issuer_serial_key(issuer, serial)
    except ValueError as exc:
        raise InvalidSecurityToken(f"The ds:X509IssuerSerial cannot be read: {exc}.") from None
    return _KeyReference(
        kind=ISSUER_SERIAL, key=key, shown=f"X509IssuerSerial (issuer {issuer.strip()}, serial {serial.strip()})"
    )


def _key_identifier(identifier: etree._Element) -> _KeyReference:
    value_type = identifier.get("ValueType")
    kind = KEY_IDENTIFIER_TYPES.get(value_type)
    if kind is None:
        raise SecurityTokenUnavailable(f"The wsse:KeyIdentifier has ValueType {value_type}; {ACCEPTED_KEY_REFERENCES}.")
    if identifier.get("EncodingType", ns.BASE64_ENCODING) != ns.BASE64_ENCODING:
        raise InvalidSecurityToken(
            f"The wsse:KeyIdentifier has EncodingType {identifier.get('EncodingType')}; use Base64Binary."
        )
    text = "".join((identifier.text or "").split())
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise InvalidSecurityToken(f"The wsse:KeyIdentifier {kind} is not base64.") from None
    return _KeyReference(kind=kind, key=key, shown=f"{kind} {text}")


def _signing_certificate(token: etree._Element | None, reference: _KeyReference, trust: TrustStore) -> x509.Certificate:
    """The certificate the key reference names: the message's token, which it must name, or
    without a token, the pinned certificate it names by issuer and serial, SKI or thumbprint."""
    if token is not None:
        cert = _token_certificate(token)
        if reference.token_uri is not None:
            token_id = token.get(WSU_ID)
            if token_id is None or reference.token_uri != f"#{token_id}":
                raise SecurityTokenUnavailable(
                    f"The SecurityTokenReference points at {reference.token_uri!r}, "
                    "which is not the message's BinarySecurityToken."
                )
        elif certificate_key(reference.kind, cert) != reference.key:
            raise SecurityTokenUnavailable(
                f"The SecurityTokenReference names {reference.shown}, which is not the certificate in the message's "
                "wsse:BinarySecurityToken."
            )
        return cert
    if reference.token_uri is not None:
        raise SecurityTokenUnavailable(
            f"The SecurityTokenReference points at {reference.token_uri!r}, but wsse:Security has no "
            "wsse:BinarySecurityToken with the signing certificate."
        )
    pinned = trust.pinned_certificate(reference.kind, reference.key)
    if pinned is None:
        raise SecurityTokenUnavailable(
            f"The SecurityTokenReference names {reference.shown}, which is no client certificate "
            "pinned in clients.toml; a client trusted through a CA (or not known by that name) "
            "must send its certificate in a wsse:BinarySecurityToken."
        )
    return pinned


def _token_certificate(token: etree._Element) -> x509.Certificate:
    if token.get("ValueType") != ns.X509_TOKEN_V3:
        raise InvalidSecurityToken(f"The BinarySecurityToken has ValueType {token.get('ValueType')}; use X509v3.")
    if token.get("EncodingType", ns.BASE64_ENCODING) != ns.BASE64_ENCODING:
        raise InvalidSecurityToken(
            f"The BinarySecurityToken has EncodingType {token.get('EncodingType')}; use Base64Binary."
        )
    try:
        der = base64.b64decode("".join((token.text or "").split()), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise InvalidSecurityToken("The BinarySecurityToken is not a base64-encoded DER X.509 certificate.") from None


# --- cryptography -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureUnderCheck:
    """What the cryptographic check gets once every check of the message's shape has passed:
    the signature, the two references resolved to the elements at their fixed places, the
    canonical SignedInfo, and the certificate the key reference named (already trusted)."""

    signature: etree._Element
    signed_info: etree._Element
    signed_info_c14n: bytes  # exclusive c14n of SignedInfo where it stands: what was signed
    references: list[SignedReference]
    cert: x509.Certificate
    allow_sha1: bool


# Returns the signed elements re-parsed from their canonical bytes, by the id() of the element
# at its fixed place; raises the SecurityFault of a failed check.
SignatureCheck = Callable[[SignatureUnderCheck], dict[int, etree._Element]]


def check_signature(message: SignatureUnderCheck) -> dict[int, etree._Element]:
    """The profile-narrow check: ds:Signature valid per its schema, the SignatureValue over the
    canonical SignedInfo verified with `cryptography`, and each reference's digest computed
    over the exc-c14n of the element at its fixed place. Nothing is serialised and parsed again
    but the two small signed elements, which the service reads instead of the envelope's.
    signxml and xmlsec1 agree on every verdict (tests/signing/test_differential.py), but where
    signxml, through lxml, drops `#default` from a PrefixList (hub.signing.c14n)."""
    _check_schema(message.signature)
    _check_signature_value(message)
    return _check_digests(message)


def _check_schema(signature: etree._Element) -> None:
    try:
        signature_schema().assertValid(signature)
    except etree.DocumentInvalid as exc:
        raise InvalidSecurity(f"The ds:Signature cannot be processed: {exc}") from None


def _check_signature_value(message: SignatureUnderCheck) -> None:
    method = message.signed_info.find("ds:SignatureMethod", DS)
    algorithm = None if method is None else method.get("Algorithm")
    if algorithm not in SIGNATURE_ALGORITHMS:
        raise UnsupportedAlgorithm(f"The signature method {algorithm} is not supported.")
    key_type, digest = SIGNATURE_ALGORITHMS[algorithm]
    value = message.signature.find("ds:SignatureValue", DS)
    raw = _base64(None if value is None else value.text, "SignatureValue")
    public = message.cert.public_key()
    try:
        if key_type == "rsa" and isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, message.signed_info_c14n, padding.PKCS1v15(), digest())
        elif key_type == "ec" and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(_dss_signature(raw, public), message.signed_info_c14n, ec.ECDSA(digest()))
        else:
            raise InvalidSecurity(
                f"The ds:Signature cannot be processed: the signature method {algorithm} does not "
                "fit the signing certificate's key."
            )
    except InvalidSignature:
        raise FailedCheck(
            "The signature does not verify: the SignatureValue is not the signing key's signature "
            "of SignedInfo. The message was changed after signing."
        ) from None


def _dss_signature(raw: bytes, public: ec.EllipticCurvePublicKey) -> bytes:
    """XML Signature's ECDSA value is r || s, each as wide as the curve: DER for cryptography."""
    size = (public.curve.key_size + 7) // 8
    if len(raw) != 2 * size:
        raise FailedCheck(
            f"The signature does not verify: an ECDSA SignatureValue for this key is {2 * size} bytes, "
            f"this one is {len(raw)}."
        )
    return encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))


def _check_digests(message: SignatureUnderCheck) -> dict[int, etree._Element]:
    """Each DigestValue is read from the canonical SignedInfo (the signed bytes, as signxml
    reads it: a comment cannot split it), each digest computed over the element at its place."""
    signed_info = etree.fromstring(message.signed_info_c14n, parser=new_parser())
    values = [r.findtext("ds:DigestValue", "", DS) for r in signed_info.findall("ds:Reference", DS)]
    signed = {}
    for index, (reference, value) in enumerate(zip(message.references, values, strict=True)):
        data = canonicalize(reference.element, reference.prefixes)
        digest = _digest(reference.digest_method, data)
        if digest != _base64(value, "DigestValue"):
            raise FailedCheck(
                f"The signature does not verify: Digest mismatch for reference {index} ({reference.uri}). "
                "The message was changed after signing."
            )
        signed[id(reference.element)] = _signed_element(data, reference.uri)
    return signed


def _digest(method: str | None, data: bytes) -> bytes:
    if method not in DIGEST_ALGORITHMS:
        raise UnsupportedAlgorithm(f"The digest method {method} is not supported.")
    return DIGEST_ALGORITHMS[method](data).digest()


def _base64(text: str | None, what: str) -> bytes:
    """base64 as signxml reads it (whitespace and line breaks skipped); the schema has already
    refused a value that is not xs:base64Binary."""
    try:
        return base64.b64decode(text or "")
    except binascii.Error:
        raise InvalidSecurity(f"The ds:Signature cannot be processed: the {what} is not base64.") from None


def _signed_element(data: bytes, uri: str) -> etree._Element:
    """The signed element parsed from its canonical bytes: all the service may read (comments,
    which exclusive c14n drops, are gone, so `1<!---->00` reads as 100)."""
    try:
        return etree.fromstring(data, parser=new_parser())
    except etree.XMLSyntaxError:
        raise InvalidSecurity(f"The data signed under {uri} is not the element the service reads.") from None


# --- time -------------------------------------------------------------------------------------


def _read_timestamp(timestamp: etree._Element) -> tuple[datetime, datetime]:
    children = [child.tag for child in timestamp.iterchildren(etree.Element)]
    if children != [CREATED, EXPIRES]:
        raise InvalidSecurity("wsu:Timestamp must hold exactly wsu:Created and then wsu:Expires.")
    created = _parse_time(timestamp.findtext(CREATED), "Created")
    expires = _parse_time(timestamp.findtext(EXPIRES), "Expires")
    if expires <= created:
        raise InvalidSecurity("The Timestamp's Expires is not after its Created.")
    return created, expires


def _parse_time(text: str | None, what: str) -> datetime:
    text = (text or "").strip()
    try:
        moment = datetime.fromisoformat(text) if "T" in text else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidSecurity(
            f"The Timestamp's {what} {text!r} is not an xs:dateTime with a time zone, like 2026-01-31T12:00:00Z."
        )
    return moment.astimezone(UTC)


def _check_freshness(created: datetime, expires: datetime, now: datetime, policy: SignaturePolicy) -> None:
    if created > now + timedelta(seconds=policy.clock_skew_s):
        raise MessageExpired(
            f"The Timestamp's Created {created.isoformat()} is in the future (now {now.isoformat()}, "
            f"allowed clock skew {policy.clock_skew_s} s); check the sender's clock."
        )
    if created < now - timedelta(seconds=policy.replay_window_s):
        raise MessageExpired(
            f"The Timestamp's Created {created.isoformat()} is older than {policy.replay_window_s} s; "
            "sign the message again."
        )
    if now >= expires:
        raise MessageExpired(f"The message expired at {expires.isoformat()} (now {now.isoformat()}).")


# --- small helpers ----------------------------------------------------------------------------


def _one(parent: etree._Element, path: str, parent_name: str) -> etree._Element:
    found = parent.findall(path, DS)
    if len(found) != 1:
        raise InvalidSecurity(f"{parent_name} must hold exactly one {path}; it holds {len(found)}.")
    return found[0]


def _prefixed(tag: str) -> str:
    prefixes = {ns.SOAP_ENV_11: "soap", ns.WSSE: "wsse", ns.WSU: "wsu", ns.DS: "ds", ns.EXC_C14N: "ec"}
    qname = etree.QName(tag)
    return f"{prefixes.get(qname.namespace, qname.namespace)}:{qname.localname}"


def _path(element: etree._Element) -> str:
    """/Envelope/Header/Security/Timestamp: where an element is, for messages a person reads."""
    names = [etree.QName(e).localname for e in (element, *element.iterancestors())]
    return "/" + "/".join(reversed(names))
