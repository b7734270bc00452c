"""hub.cashdesk.documents.CashDeskDocuments, drawn with reportlab."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.adapters.pdf.cash_report import cash_report_pdf
from hub.adapters.pdf.receipt import receipt_pdf

if TYPE_CHECKING:
    from hub.cashdesk.service import CashReport, PaymentRecord
    from hub.config import Office


class CashDeskPdf:
    def receipt_pdf(self, payment: PaymentRecord, office: Office, qr_payload: str) -> bytes:
        return receipt_pdf(payment, office, qr_payload)

    def cash_report_pdf(self, report: CashReport) -> bytes:
        return cash_report_pdf(report)
