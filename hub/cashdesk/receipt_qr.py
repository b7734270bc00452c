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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cryptography import x509

from hub.errors import InvalidRequest
from hub.signing.keys import SigningIdentity
from hub.signing.payload import (
    MALFORMED,
    QrRejected,
    check_signature,
    day_field,
    grosze_field,
    sign_text,
    split_payload,
    unb32,
)

VERSION = "KP1"

_RECEIPT = re.compile(r"^KP/[0-9]{4}/[A-Za-z0-9_-]{1,16}/[0-9]{4}/[0-9]{6,}$")  # hub.cashdesk.service.receipt_number


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
    number, amount, day, encoded = split_payload(text, VERSION, ("receipt number", "total", "day"), "receipt QR code")
    if not _RECEIPT.match(number):
        raise QrRejected(MALFORMED, f"malformed receipt number {number!r}: KP/<office>/<desk>/<year>/<number>")
    receipt = QrReceipt(number, grosze_field(amount, "total"), day_field(day, "day"))
    unb32(encoded)
    return receipt
