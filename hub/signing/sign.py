"""Sign a SOAP 1.1 envelope with the contract's WS-Security profile (section 2).

The result, inside `soap:Header`:

    <wsse:Security soap:mustUnderstand="1">
      <wsu:Timestamp wsu:Id="TS-..."> Created, Expires </wsu:Timestamp>
      <wsse:BinarySecurityToken wsu:Id="X509-..." ValueType="...#X509v3" EncodingType="...#Base64Binary"/>
      <ds:Signature>  exclusive c14n; RSA-SHA256 or ECDSA-SHA256; SHA-256 digests;
                      references #Body-id and #TS-id; KeyInfo -> SecurityTokenReference -> #X509-id
    </wsse:Security>

signxml builds the ds:Signature as a *detached* signature over the two referenced elements, with
exclusive c14n everywhere: only exclusive c14n gives the same bytes once the Signature is moved
from signxml's standalone element into wsse:Security (inclusive c14n would pick up the soap and
wsse namespace declarations of the new ancestors and the signature would no longer verify).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner, methods

from hub import ns
from hub.signing.keys import SigningIdentity
from hub.signing.policy import ECDSA_SHA256, RSA_SHA256

NSMAP = {"wsse": ns.WSSE, "wsu": ns.WSU}
WSU_ID = etree.QName(ns.WSU, "Id").text
SIGNATURE_METHODS = {"rsa-sha256": RSA_SHA256, "ecdsa-sha256": ECDSA_SHA256}


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
    method = _method_uri(identity, signature_method)
    now = now or datetime.now(UTC)
    header, body = _header_and_body(envelope)
    if header.find(f"{{{ns.WSSE}}}Security") is not None:
        raise ValueError("the envelope already has a wsse:Security header")
    security = etree.Element(f"{{{ns.WSSE}}}Security", nsmap=NSMAP)
    security.set(f"{{{ns.SOAP_ENV_11}}}mustUnderstand", "1")
    header.insert(0, security)
    timestamp_id = _add_timestamp(security, now, ttl_s)
    token_id = _add_token(security, identity)
    body_id = _ensure_id(body, "Body")
    security.append(_signature(envelope, identity, method, [body_id, timestamp_id], token_id))
    return envelope


def format_time(moment: datetime) -> str:
    """xs:dateTime in UTC with Z and milliseconds, as the contract writes time."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _method_uri(identity: SigningIdentity, signature_method: str | None) -> str:
    wanted = signature_method or identity.signature_method
    uri = SIGNATURE_METHODS.get(wanted, wanted)
    if uri != SIGNATURE_METHODS[identity.signature_method]:
        raise ValueError(
            f"signature method {wanted} does not fit the key ({identity.signature_method})"
        )
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


def _add_timestamp(security: etree._Element, now: datetime, ttl_s: int) -> str:
    timestamp = etree.SubElement(security, f"{{{ns.WSU}}}Timestamp")
    etree.SubElement(timestamp, f"{{{ns.WSU}}}Created").text = format_time(now)
    etree.SubElement(timestamp, f"{{{ns.WSU}}}Expires").text = format_time(
        now + timedelta(seconds=ttl_s)
    )
    return _ensure_id(timestamp, "TS")


def _add_token(security: etree._Element, identity: SigningIdentity) -> str:
    token = etree.SubElement(
        security,
        f"{{{ns.WSSE}}}BinarySecurityToken",
        ValueType=ns.X509_TOKEN_V3,
        EncodingType=ns.BASE64_ENCODING,
    )
    token.text = base64.b64encode(identity.cert_der).decode("ascii")
    return _ensure_id(token, "X509")


def _ensure_id(element: etree._Element, prefix: str) -> str:
    if not element.get(WSU_ID):
        element.set(WSU_ID, f"{prefix}-{uuid.uuid4().hex}")
    return element.get(WSU_ID)


def _key_info(token_id: str) -> etree._Element:
    """KeyInfo that points at the BinarySecurityToken instead of carrying the certificate."""
    key_info = etree.Element(f"{{{ns.DS}}}KeyInfo", nsmap={"ds": ns.DS})
    reference_holder = etree.SubElement(
        key_info, f"{{{ns.WSSE}}}SecurityTokenReference", nsmap={"wsse": ns.WSSE}
    )
    etree.SubElement(
        reference_holder, f"{{{ns.WSSE}}}Reference", URI=f"#{token_id}", ValueType=ns.X509_TOKEN_V3
    )
    return key_info


def _signature(
    envelope: etree._Element, identity: SigningIdentity, method: str, ids: list[str], token_id: str
) -> etree._Element:
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm=SignatureMethod(method),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(
        envelope,
        key=identity.private_key,
        reference_uri=[f"#{i}" for i in ids],
        key_info=_key_info(token_id),
    )
