"""The cash desk receipt (KP, "Kasa przyjęła") of one payment, as PDF.

One A4 page (more only for a very long list of fees): the office, desk, cashier,
the system and case number the payment is for, every fee with its name and
amount, the handling fee, the total, the method (and the card terminal's
authorization code), the date and time in Warsaw, the payer when given, the total
in words, lines for the cashier's and the payer's signatures, and a QR code
signed by the hub (`KP1.`, hub.cashdesk.receipt_qr) that anyone can check offline
with `hub cashdesk check-qr`. A voided payment's receipt says so in large
letters, with who voided it and why.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit

from hub.adapters.pdf.page import FONT, FONT_BOLD, FONT_MONO, PAGE, draw_qr, new_canvas
from hub.clock import WARSAW
from hub.words import PAYMENT_METHOD, SYSTEM_PURPOSE, amount_in_words_pl, format_amount_pl

if TYPE_CHECKING:
    from hub.cashdesk.service import PaymentRecord
    from hub.config import Office


WIDTH, HEIGHT = PAGE
LEFT, RIGHT, TOP, BOTTOM = 20 * mm, WIDTH - 20 * mm, HEIGHT - 20 * mm, 20 * mm
QR_SIZE = 38 * mm
LINE = 5.2 * mm


def warsaw_time(at) -> str:
    return at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M:%S")


class _Page:
    """A cursor down the page that starts a new page when the bottom is reached."""

    def __init__(self, canvas, footer: str) -> None:
        self.canvas = canvas
        self.footer = footer
        self.y = TOP

    def need(self, height: float) -> None:
        if self.y - height < BOTTOM + 10 * mm:
            self._footer()
            self.canvas.showPage()
            self.y = TOP

    def _footer(self) -> None:
        self.canvas.setFont(FONT, 7.5)
        self.canvas.drawString(LEFT, BOTTOM, self.footer)
        self.canvas.drawRightString(RIGHT, BOTTOM, f"strona {self.canvas.getPageNumber()}")

    def finish(self) -> None:
        self._footer()
        self.canvas.showPage()

    def label(self, label: str, value: str, font=FONT, size: float = 10) -> None:
        self.need(LINE)
        self.canvas.setFont(FONT, 9)
        self.canvas.drawString(LEFT, self.y, label)
        self.canvas.setFont(font, size)
        for i, part in enumerate(simpleSplit(value, font, size, RIGHT - QR_SIZE - LEFT - 45 * mm)):
            if i:
                self.y -= LINE
                self.need(LINE)
            self.canvas.drawString(LEFT + 45 * mm, self.y, part)
        self.y -= LINE


def receipt_pdf(payment: PaymentRecord, office: Office, qr_payload: str) -> bytes:
    """`qr_payload`: the signed `KP1.` text (hub.cashdesk.receipt_qr.receipt_payload)."""
    out = io.BytesIO()
    canvas = new_canvas(out, title=f"Dowód wpłaty {payment.receipt_number}")
    page = _Page(canvas, f"{payment.receipt_number} · identyfikator wpłaty {payment.payment_id}")

    canvas.setFont(FONT_BOLD, 16)
    canvas.drawString(LEFT, page.y, "KP – Kasa przyjęła")
    page.y -= 8 * mm
    canvas.setFont(FONT_MONO, 13)
    canvas.drawString(LEFT, page.y, payment.receipt_number)
    draw_qr(canvas, qr_payload, RIGHT - QR_SIZE, TOP - QR_SIZE + 5 * mm, QR_SIZE)
    page.y -= 10 * mm

    page.label("Urząd", f"{office.name} ({office.code})")
    page.label("Stanowisko kasowe", payment.desk_id)
    page.label("Kasjer", payment.cashier)
    page.label(
        "System",
        f"{payment.system} ({SYSTEM_PURPOSE[payment.system]})" if payment.system in SYSTEM_PURPOSE else payment.system,
    )
    page.label("Znak sprawy", payment.case_number, font=FONT_BOLD)
    page.label("Data i godzina", f"{warsaw_time(payment.paid_at)} (czas warszawski)")
    page.label("Wpłacający", payment.payer_name or "……………………………………")
    if payment.payer_address:
        page.label("Adres wpłacającego", payment.payer_address)
    page.y = min(page.y, TOP - QR_SIZE - 2 * mm) - 4 * mm

    _items(page, payment)
    _totals(page, payment)
    _signatures(page)
    if payment.voided:
        _voided(page, payment)
    page.finish()
    canvas.save()
    return out.getvalue()


def _items(page: _Page, payment: PaymentRecord) -> None:
    c = page.canvas
    name_width = RIGHT - 40 * mm - (LEFT + 10 * mm) - 4 * mm
    page.need(2 * LINE)
    c.setFont(FONT_BOLD, 9.5)
    c.drawString(LEFT, page.y, "Lp.")
    c.drawString(LEFT + 10 * mm, page.y, "Opłata")
    c.drawRightString(RIGHT, page.y, "Kwota")
    page.y -= 2 * mm
    c.line(LEFT, page.y, RIGHT, page.y)
    page.y -= LINE
    for n, item in enumerate(payment.items, start=1):
        lines = simpleSplit(f"{item.fee_name} [{item.fee_code}]", FONT, 9.5, name_width)
        page.need(LINE * len(lines))
        c.setFont(FONT, 9.5)
        c.drawString(LEFT, page.y, f"{n}.")
        c.drawRightString(RIGHT, page.y, format_amount_pl(item.amount_grosze))
        for line in lines:
            c.drawString(LEFT + 10 * mm, page.y, line)
            page.y -= LINE
    c.line(LEFT, page.y + LINE - 2 * mm, RIGHT, page.y + LINE - 2 * mm)


def _totals(page: _Page, payment: PaymentRecord) -> None:
    c = page.canvas
    rows = (
        ("Opłaty razem", payment.items_total_grosze, FONT, 10),
        (f"Opłata manipulacyjna ({PAYMENT_METHOD[payment.method]})", payment.handling_fee_grosze, FONT, 10),
        ("Razem", payment.total_grosze, FONT_BOLD, 13),
    )
    page.y -= 1 * mm
    for label, amount, font, size in rows:
        page.need(LINE + 2 * mm)
        c.setFont(font, size)
        c.drawString(LEFT + 10 * mm, page.y, label)
        c.drawRightString(RIGHT, page.y, format_amount_pl(amount))
        page.y -= LINE + (2 * mm if size > 10 else 0)
    page.y -= 2 * mm
    method = PAYMENT_METHOD[payment.method]
    if payment.card_auth_code:
        method += f", kod autoryzacji {payment.card_auth_code}"
    page.label("Forma płatności", method)
    page.label("Słownie", amount_in_words_pl(payment.total_grosze))


def _signatures(page: _Page) -> None:
    """Two lines to sign on: the cashier's on the left, the payer's on the right."""
    c = page.canvas
    page.y -= 16 * mm
    page.need(12 * mm)
    width = 65 * mm
    for x, caption in ((LEFT, "podpis kasjera"), (RIGHT - width, "podpis wpłacającego")):
        c.setDash(1, 2)
        c.line(x, page.y, x + width, page.y)
        c.setDash()
        c.setFont(FONT, 8)
        c.drawCentredString(x + width / 2, page.y - 4 * mm, caption)
    page.y -= 10 * mm


def _voided(page: _Page, payment: PaymentRecord) -> None:
    c = page.canvas
    page.y -= 6 * mm
    page.need(30 * mm)
    c.saveState()
    c.setFillColorRGB(0.75, 0, 0)
    c.setFont(FONT_BOLD, 22)
    c.drawString(LEFT, page.y, "ANULOWANO")
    c.restoreState()
    page.y -= 9 * mm
    page.label("Anulowano", f"{warsaw_time(payment.voided_at)} (czas warszawski)")
    page.label("Zatwierdził", payment.voided_by or "")
    page.label("Powód", payment.void_reason or "")
