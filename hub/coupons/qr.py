"""The QR payload printed on a coupon: its id, amount and expiry, signed by the hub.

    HUB1.<coupon id>.<amount grosze>.<expiry day>.<signature>
    HUB1.ABCD-EFGH-JKMN-PQRS.16150.2026-06-08.K5T...   (452 characters with RSA-2048)

- `HUB1` names the format; a checker refuses a version it does not know.
- coupon id: canonical `XXXX-XXXX-XXXX-XXXX`; amount: grosze, digits without a
  leading zero; expiry: the Warsaw day of the coupon's `expires_at`, `YYYY-MM-DD`.
- signature: over the ASCII text before the last dot, by the hub's signing key:
  RSA PKCS#1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256 as raw r||s; written
  in RFC 4648 base32 without padding (hub.signing.payload, shared with the cash
  receipt's `KP1.`).

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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cryptography import x509

from hub.errors import InvalidRequest
from hub.ids import MalformedId, format_coupon_id, normalize_coupon_id
from hub.signing.keys import SigningIdentity
from hub.signing.payload import (
    BAD_SIGNATURE,
    MALFORMED,
    UNKNOWN_VERSION,
    QrRejected,
    check_signature,
    day_field,
    grosze_field,
    sign_text,
    split_payload,
    unb32,
)

__all__ = [
    "BAD_SIGNATURE",
    "MALFORMED",
    "UNKNOWN_VERSION",
    "QrCoupon",
    "QrRejected",
    "QrSigner",
    "parse_qr",
    "signed_text",
    "verify_qr",
]

VERSION = "HUB1"


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
        return sign_text(self.identity, signed_text(coupon_id, amount_grosze, expires_on))


def verify_qr(text: str, certs: Iterable[x509.Certificate]) -> QrCoupon:
    """The coupon a payload names, if one of `certs` signed it; QrRejected otherwise."""
    coupon = parse_qr(text)
    check_signature(text, certs)
    return coupon


def parse_qr(text: str) -> QrCoupon:
    """The parts of a payload, checked for form only (no signature check)."""
    coupon_text, amount, day, encoded = split_payload(
        text, VERSION, ("coupon id", "amount", "expiry"), "coupon QR code"
    )
    try:
        coupon_id = format_coupon_id(normalize_coupon_id(coupon_text))
    except MalformedId as e:
        raise QrRejected(MALFORMED, f"malformed coupon id {coupon_text!r}: {e}") from None
    if coupon_id != coupon_text:
        raise QrRejected(MALFORMED, f"malformed: the coupon id must be written {coupon_id}")
    coupon = QrCoupon(coupon_id, grosze_field(amount, "amount"), day_field(day, "expiry"))
    unb32(encoded)
    return coupon
