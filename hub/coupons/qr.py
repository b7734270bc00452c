"""The QR payload printed on a coupon: its id, amount and expiry, signed by the hub.

    HUB1.<coupon id>.<amount grosze>.<expiry day>.<signature>
    HUB1.ABCD-EFGH-JKMN-PQRS.16150.2026-06-08.K5T...   (452 characters with RSA-2048)

- `HUB1` names the format; a checker refuses a version it does not know.
- coupon id: canonical `XXXX-XXXX-XXXX-XXXX`; amount: grosze, digits without a
  leading zero; expiry: the Warsaw day of the coupon's `expires_at`, `YYYY-MM-DD`.
- signature: over the ASCII text before the last dot, by the hub's signing key:
  RSA PKCS#1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256 as raw r||s; written
  in RFC 4648 base32 without padding.

Base32, not base64: every character of the payload is then in the QR code's
alphanumeric set (0-9 A-Z space $ % * + - . / :), encoded at 5.5 bits a character
instead of 8, so an RSA-2048 payload fits QR version 13 instead of 15 and its
modules print larger. Only the canonical spelling of each part is accepted (the
signature is re-encoded and compared), so changing any one character fails.

Checking needs only the hub's certificate, no database: `verify_qr`. What it
proves is that the hub issued a coupon with this id, amount and expiry; whether
the coupon is still unused is for VerifyCoupon to say. See docs/coupon-qr.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from hub.errors import InvalidRequest
from hub.ids import MalformedId, format_coupon_id, normalize_coupon_id
from hub.signing.keys import SigningIdentity

VERSION = "HUB1"
PAYLOAD_CHARS_MAX = 2000  # far above any key the hub signs with; a longer text is refused unread

_VERSION_LIKE = re.compile(r"^HUB[0-9]+$")
_AMOUNT = re.compile(r"^[1-9][0-9]{0,14}$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_BASE32 = re.compile(r"^[A-Z2-7]+$")

# reasons
MALFORMED, UNKNOWN_VERSION, BAD_SIGNATURE = "MALFORMED", "UNKNOWN_VERSION", "BAD_SIGNATURE"


class QrRejected(InvalidRequest):
    """The text is not a genuine coupon QR payload; `reason` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class QrCoupon:
    """What a genuine payload says."""

    coupon_id: str  # canonical
    amount_grosze: int
    expires_on: date


def signed_text(coupon_id: str, amount_grosze: int, expires_on: date) -> str:
    return f"{VERSION}.{format_coupon_id(normalize_coupon_id(coupon_id))}.{amount_grosze}.{expires_on.isoformat()}"


class QrSigner:
    """Signs payloads with the hub's own key (SigningIdentity.load keeps one per process)."""

    def __init__(self, identity: SigningIdentity) -> None:
        self.identity = identity

    def payload(self, coupon_id: str, amount_grosze: int, expires_on: date) -> str:
        if amount_grosze <= 0:
            raise InvalidRequest(f"a coupon's amount must be positive, got {amount_grosze}")
        text = signed_text(coupon_id, amount_grosze, expires_on)
        key = self.identity.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(text.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(key.sign(text.encode("ascii"), ec.ECDSA(hashes.SHA256())))
            size = _ec_bytes(key.curve)
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return f"{text}.{_b32(signature)}"


def verify_qr(text: str, certs: Iterable[x509.Certificate]) -> QrCoupon:
    """The coupon a payload names, if one of `certs` signed it; QrRejected otherwise."""
    coupon = parse_qr(text)
    body, _, encoded = text.rpartition(".")
    signature = _unb32(encoded)
    message = body.encode("ascii")
    if not any(_signed_by(cert, message, signature) for cert in certs):
        raise QrRejected(BAD_SIGNATURE, "bad signature: the hub did not sign this QR code, or it was altered")
    return coupon


def parse_qr(text: str) -> QrCoupon:
    """The parts of a payload, checked for form only (no signature check)."""
    if len(text) > PAYLOAD_CHARS_MAX:
        raise QrRejected(MALFORMED, f"malformed: {len(text)} characters, a coupon QR code has at most {PAYLOAD_CHARS_MAX}")
    parts = text.split(".")
    if parts and parts[0] != VERSION and _VERSION_LIKE.match(parts[0]):
        raise QrRejected(UNKNOWN_VERSION, f"wrong version: {parts[0]}; this checker reads {VERSION}")
    if len(parts) != 5 or parts[0] != VERSION:
        raise QrRejected(MALFORMED, f"malformed: expected {VERSION}.<coupon id>.<amount>.<expiry>.<signature>")
    _, coupon_text, amount, day, encoded = parts
    try:
        coupon_id = format_coupon_id(normalize_coupon_id(coupon_text))
    except MalformedId as e:
        raise QrRejected(MALFORMED, f"malformed coupon id {coupon_text!r}: {e}") from None
    if coupon_id != coupon_text:
        raise QrRejected(MALFORMED, f"malformed: the coupon id must be written {coupon_id}")
    if not _AMOUNT.match(amount):
        raise QrRejected(MALFORMED, f"malformed amount {amount!r}: grosze, digits without a leading zero")
    try:
        expires_on = date.fromisoformat(day) if _DAY.match(day) else None
    except ValueError:
        expires_on = None
    if expires_on is None:
        raise QrRejected(MALFORMED, f"malformed expiry {day!r}: YYYY-MM-DD")
    _unb32(encoded)
    return QrCoupon(coupon_id, int(amount), expires_on)


def _signed_by(cert: x509.Certificate, message: bytes, signature: bytes) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = _ec_bytes(key.curve)
            if len(signature) != 2 * size:
                return False
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False


def _ec_bytes(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    """Strict: only the canonical spelling of some bytes (unused trailing bits zero)."""
    if not _BASE32.match(text):
        raise QrRejected(MALFORMED, "malformed signature: base32 letters A-Z and digits 2-7 expected")
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise QrRejected(MALFORMED, "malformed signature: not base32 of whole bytes") from None
    if _b32(data) != text:
        raise QrRejected(MALFORMED, "malformed signature: not the canonical base32 spelling")
    return data
