"""The QR payload printed on a cash receipt (KP): its number, total and day, signed
by the hub like a coupon's (hub.signing.payload).

    KP1.<receipt number>.<total grosze>.<business day>.<signature>
    KP1.KP/1465/01/2026/000123.5450.2026-03-10.K5T...

Checking needs only the hub's certificate, no database (`hub cashdesk check-qr`).
It proves the hub took a payment with this receipt number, total and day; whether
the payment was voided later is for VerifyPayment or the daily cash report to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from cryptography import x509

from hub.errors import InvalidRequest
from hub.signing.keys import SigningIdentity
from hub.signing.payload import MALFORMED, PAYLOAD_CHARS_MAX, UNKNOWN_VERSION, QrRejected, check_signature, sign_text, unb32

VERSION = "KP1"

_VERSION_LIKE = re.compile(r"^KP[0-9]+$")
_RECEIPT = re.compile(r"^KP/[0-9]{4}/[A-Za-z0-9_-]{1,16}/[0-9]{4}/[0-9]{6,}$")  # hub.cashdesk.service.receipt_number
_AMOUNT = re.compile(r"^[1-9][0-9]{0,14}$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class QrReceipt:
    """What a genuine receipt payload says."""

    receipt_number: str
    total_grosze: int
    day: date


def receipt_payload(identity: SigningIdentity, receipt_number: str, total_grosze: int, day: date) -> str:
    if total_grosze <= 0:
        raise InvalidRequest(f"a receipt's total must be positive, got {total_grosze}")
    return sign_text(identity, f"{VERSION}.{receipt_number}.{total_grosze}.{day.isoformat()}")


def verify_receipt_qr(text: str, certs: Iterable[x509.Certificate]) -> QrReceipt:
    """The receipt a payload names, if one of `certs` signed it; QrRejected otherwise."""
    receipt = parse_receipt_qr(text)
    check_signature(text, certs, "receipt QR code")
    return receipt


def parse_receipt_qr(text: str) -> QrReceipt:
    """The parts of a payload, checked for form only (no signature check)."""
    if len(text) > PAYLOAD_CHARS_MAX:
        raise QrRejected(MALFORMED, f"malformed: {len(text)} characters, a receipt QR code has at most {PAYLOAD_CHARS_MAX}")
    parts = text.split(".")
    if parts and parts[0] != VERSION and _VERSION_LIKE.match(parts[0]):
        raise QrRejected(UNKNOWN_VERSION, f"wrong version: {parts[0]}; this checker reads {VERSION}")
    if len(parts) != 5 or parts[0] != VERSION:
        raise QrRejected(MALFORMED, f"malformed: expected {VERSION}.<receipt number>.<total>.<day>.<signature>")
    _, number, amount, day, encoded = parts
    if not _RECEIPT.match(number):
        raise QrRejected(MALFORMED, f"malformed receipt number {number!r}: KP/<office>/<desk>/<year>/<number>")
    if not _AMOUNT.match(amount):
        raise QrRejected(MALFORMED, f"malformed total {amount!r}: grosze, digits without a leading zero")
    try:
        paid_on = date.fromisoformat(day) if _DAY.match(day) else None
    except ValueError:
        paid_on = None
    if paid_on is None:
        raise QrRejected(MALFORMED, f"malformed day {day!r}: YYYY-MM-DD")
    unb32(encoded)
    return QrReceipt(number, int(amount), paid_on)
