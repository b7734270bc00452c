"""Short texts signed with the hub's own key, for QR codes checked offline: the
coupon's `HUB1.` (hub.coupons.qr) and the cash receipt's `KP1.` (hub.cashdesk.receipt_qr).

    <version>.<field>.<field>...<signature>

The signature is over the ASCII text before the last dot: RSA PKCS#1 v1.5 with
SHA-256, or ECDSA P-256 with SHA-256 as raw r||s; written in RFC 4648 base32
without padding, so every character stays in the QR alphanumeric set. Only the
canonical base32 spelling is accepted, so changing any one character fails.
Each format parses its own fields; this module signs, and checks signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import date

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from hub.errors import InvalidRequest
from hub.signing.keys import SigningIdentity

PAYLOAD_CHARS_MAX = 2000  # far above any key the hub signs with; a longer text is refused unread

_BASE32 = re.compile(r"^[A-Z2-7]+$")
_GROSZE = re.compile(r"^[1-9][0-9]{0,14}$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# reasons
MALFORMED, UNKNOWN_VERSION, BAD_SIGNATURE = "MALFORMED", "UNKNOWN_VERSION", "BAD_SIGNATURE"


class QrRejected(InvalidRequest):
    """The text is not a genuine signed payload; `reason` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign_text(identity: SigningIdentity, text: str) -> str:
    """`text` with its signature appended: `<text>.<base32 signature>`."""
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(text.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(text.encode("ascii"), ec.ECDSA(hashes.SHA256())))
        size = _ec_bytes(key.curve)
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{text}.{_b32(signature)}"


def split_payload(text: str, version: str, fields: tuple[str, ...], what: str) -> list[str]:
    """The fields of `<version>.<field>...<signature>` (signature last, not yet checked),
    or QrRejected: too long, another version of the same format, or the wrong number of parts."""
    if len(text) > PAYLOAD_CHARS_MAX:
        raise QrRejected(MALFORMED, f"malformed: {len(text)} characters, a {what} has at most {PAYLOAD_CHARS_MAX}")
    parts = text.split(".")
    family = version.rstrip("0123456789")
    if parts[0] != version and re.fullmatch(f"{family}[0-9]+", parts[0]):
        raise QrRejected(UNKNOWN_VERSION, f"wrong version: {parts[0]}; this checker reads {version}")
    if len(parts) != len(fields) + 2 or parts[0] != version:
        raise QrRejected(
            MALFORMED, f"malformed: expected {version}." + ".".join(f"<{f}>" for f in fields) + ".<signature>"
        )
    return parts[1:]


def grosze_field(text: str, name: str) -> int:
    """A positive amount in grosze, digits without a leading zero (the only spelling signed)."""
    if not _GROSZE.match(text):
        raise QrRejected(MALFORMED, f"malformed {name} {text!r}: grosze, digits without a leading zero")
    return int(text)


def day_field(text: str, name: str) -> date:
    """A day written YYYY-MM-DD in ASCII digits (date.fromisoformat alone takes other forms)."""
    if _DAY.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2026-02-30
            pass
    raise QrRejected(MALFORMED, f"malformed {name} {text!r}: YYYY-MM-DD")


def check_signature(text: str, certs: Iterable[x509.Certificate], what: str = "QR code") -> None:
    """QrRejected unless one of `certs` signed the text before the last dot of `text`.
    The caller has checked the form of the fields already."""
    body, _, encoded = text.rpartition(".")
    signature = unb32(encoded)
    message = body.encode("ascii")
    if not any(_signed_by(cert, message, signature) for cert in certs):
        raise QrRejected(BAD_SIGNATURE, f"bad signature: the hub did not sign this {what}, or it was altered")


def unb32(text: str) -> bytes:
    """A signature's bytes. Strict: only the canonical spelling of some bytes (unused trailing bits zero)."""
    if not _BASE32.match(text):
        raise QrRejected(MALFORMED, "malformed signature: base32 letters A-Z and digits 2-7 expected")
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise QrRejected(MALFORMED, "malformed signature: not base32 of whole bytes") from None
    if _b32(data) != text:
        raise QrRejected(MALFORMED, "malformed signature: not the canonical base32 spelling")
    return data


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
