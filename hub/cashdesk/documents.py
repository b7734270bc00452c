"""What the cash desk needs drawn: the receipt (KP) of a payment and the daily cash
report, as PDF. hub.adapters.pdf draws them; hub.app injects the drawing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hub.cashdesk.service import CashReport, PaymentRecord
    from hub.config import Office


class CashDeskDocuments(Protocol):
    def receipt_pdf(self, payment: PaymentRecord, office: Office, qr_payload: str) -> bytes:
        """`qr_payload`: the signed `KP1.` text (hub.cashdesk.receipt_qr.receipt_payload)."""
        ...

    def cash_report_pdf(self, report: CashReport) -> bytes: ...
