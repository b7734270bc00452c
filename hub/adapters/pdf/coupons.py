"""The coupon PDF: one, two or four coupons to an A4 sheet, each with its id, a
signed QR code and what a clerk and the company need to read off it, in Polish.

A coupon is drawn once, as a full A4 design; two to a sheet it is turned a
quarter and scaled to A5 (each half of the sheet), four to a sheet scaled by half
to A6. Cut marks at the sheet's edges (and a cross in the middle) show where to
cut. The QR codes shrink with the coupon; at four to a sheet an RSA-2048 payload
still has more than 3 pixels a module at 150 dpi (tests/test_coupon_pdf.py decodes
every code of a sheet rendered at 150 dpi).

Pages are drawn one at a time from an iterator of sheets (the coupon service
reads them from the database in chunks). reportlab keeps each finished page as a
compressed stream until `save()`, a few kilobytes a page, so a 1,000-coupon PDF
stays far under the memory budget (tests/test_coupon_pdf.py measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import BinaryIO

from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from hub.adapters.pdf.page import FONT, FONT_BOLD, FONT_MONO, PAGE, draw_qr, new_canvas
from hub.clock import WARSAW, business_day
from hub.coupons.models import CANCELLED, EXPIRED, REDEEMED
from hub.coupons.qr import QrSigner
from hub.coupons.queries import PER_PAGE, CouponSheet
from hub.words import format_amount_pl

WIDTH, HEIGHT = PAGE
MARGIN = 56
QR_SIZE = 236
COLUMN_X = MARGIN + QR_SIZE + 28
COLUMN_WIDTH = WIDTH - MARGIN - COLUMN_X

CLERK_INSTRUCTION = "Urzędnik: zeskanuj kod lub wpisz numer kuponu w systemie Pojazd/Kierowca; kupon jest jednorazowy."
HOLDER_INSTRUCTION = (
    "Przekaż kupon w urzędzie przy składaniu wniosku: opłata zostanie pobrana z konta przedpłaconego firmy. "
    "Kupon jest ważny do daty podanej wyżej i tylko dla wskazanego rodzaju sprawy."
)
# By Coupon.status as stored and sheets carry it, a plain string (equal to the CouponStatus member).
STATUS_STAMP: dict[str, str] = {REDEEMED: "WYKORZYSTANY", CANCELLED: "ANULOWANY", EXPIRED: "WYGASŁY"}
CUT_MARK = 14  # points long, at each end of a cut line


def write_coupons_pdf(
    target: BinaryIO,
    sheets: Iterable[CouponSheet],
    signer: QrSigner,
    *,
    title: str,
    count: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    per_page: int = 1,
) -> int:
    """Draw the coupons `per_page` (1, 2 or 4) to a sheet and write the PDF to `target`;
    returns the number of coupons. `count` (the coupons expected) is printed as
    "Kupon i z count" and passed to `progress`."""
    if per_page not in PER_PAGE:
        raise ValueError(f"per_page must be one of {PER_PAGE}, got {per_page}")
    canvas = new_canvas(target, title)
    done = 0
    for sheet in sheets:
        slot = done % per_page
        done += 1
        payload = signer.payload(sheet.coupon_id, sheet.amount_grosze, business_day(sheet.expires_at))
        canvas.saveState()
        _place(canvas, per_page, slot)
        _draw_coupon(canvas, sheet, payload, done, count)
        canvas.restoreState()
        if slot == per_page - 1:
            _finish_sheet(canvas, per_page)
        if progress is not None:
            progress(done, count or done)
    if done % per_page:
        _finish_sheet(canvas, per_page)
    canvas.save()
    return done


class CouponPdf:
    """hub.coupons.queries.CouponSheetsPdf, drawn as above."""

    write = staticmethod(write_coupons_pdf)


def _place(canvas: Canvas, per_page: int, slot: int) -> None:
    """Move and scale the full-page design into slot `slot` of the sheet (0: top left)."""
    if per_page == 2:  # A5 halves, top then bottom; the design turned a quarter, read from the left edge
        scale = min((HEIGHT / 2) / WIDTH, WIDTH / HEIGHT)
        bottom = HEIGHT / 2 if slot == 0 else 0
        canvas.translate(WIDTH - (WIDTH - scale * HEIGHT) / 2, bottom + (HEIGHT / 2 - scale * WIDTH) / 2)
        canvas.rotate(90)
        canvas.scale(scale, scale)
    elif per_page == 4:  # A6 quarters: top left, top right, bottom left, bottom right
        column, row = slot % 2, slot // 2
        canvas.translate(column * WIDTH / 2, (1 - row) * HEIGHT / 2)
        canvas.scale(0.5, 0.5)


def _finish_sheet(canvas: Canvas, per_page: int) -> None:
    if per_page > 1:
        _cut_marks(canvas, per_page)
    canvas.showPage()


def _cut_marks(canvas: Canvas, per_page: int) -> None:
    """Short lines at the sheet's edges where it is cut; with four, a cross in the middle."""
    canvas.saveState()
    canvas.setLineWidth(0.6)
    canvas.setStrokeColorRGB(0, 0, 0)
    middle_x, middle_y = WIDTH / 2, HEIGHT / 2
    canvas.line(0, middle_y, CUT_MARK, middle_y)
    canvas.line(WIDTH - CUT_MARK, middle_y, WIDTH, middle_y)
    if per_page == 4:
        canvas.line(middle_x, 0, middle_x, CUT_MARK)
        canvas.line(middle_x, HEIGHT - CUT_MARK, middle_x, HEIGHT)
        canvas.line(middle_x - CUT_MARK / 2, middle_y, middle_x + CUT_MARK / 2, middle_y)
        canvas.line(middle_x, middle_y - CUT_MARK / 2, middle_x, middle_y + CUT_MARK / 2)
    canvas.restoreState()


def _draw_coupon(canvas: Canvas, sheet: CouponSheet, payload: str, page: int, count: int | None) -> None:
    top = HEIGHT - MARGIN
    canvas.setFont(FONT_BOLD, 22)
    canvas.drawString(MARGIN, top - 22, "Kupon opłaty urzędowej")
    canvas.setFont(FONT, 10)
    canvas.drawString(
        MARGIN, top - 40, "Przedpłacony kupon hubu opłat: sprawy rejestracji pojazdów i uprawnień kierowców"
    )

    canvas.setFont(FONT, 10)
    canvas.drawString(MARGIN, top - 84, "Numer kuponu")
    canvas.setFont(FONT_MONO, 34)
    canvas.drawString(MARGIN, top - 124, sheet.coupon_id)
    canvas.setLineWidth(0.8)
    canvas.line(MARGIN, top - 142, WIDTH - MARGIN, top - 142)

    qr_top = top - 164
    draw_qr(canvas, payload, MARGIN, qr_top - QR_SIZE, QR_SIZE)

    y = qr_top - 4
    y = _field(canvas, "Kwota", [format_amount_pl(sheet.amount_grosze)], y, FONT_BOLD, 26)
    y = _field(
        canvas, "Rodzaj sprawy", [sheet.case_type, *simpleSplit(sheet.case_type_name, FONT, 11, COLUMN_WIDTH)], y
    )
    y = _field(
        canvas,
        "Firma (płatnik)",
        [*simpleSplit(sheet.company_name, FONT, 11, COLUMN_WIDTH), f"NIP {sheet.company_nip}"],
        y,
    )
    if sheet.reference:
        y = _field(canvas, "Numer referencyjny firmy", simpleSplit(sheet.reference, FONT, 11, COLUMN_WIDTH), y)
    y = _field(canvas, "Data wydania", [_warsaw(sheet.issued_at)], y)
    y = _field(canvas, "Ważny do", [_warsaw(sheet.expires_at)], y)
    if sheet.office_code is not None:
        where = f"{sheet.office_code} {sheet.office_name}" if sheet.office_name else sheet.office_code
        y = _field(canvas, "Ważny tylko w urzędzie", simpleSplit(where, FONT, 11, COLUMN_WIDTH), y)

    bottom = _instructions(canvas, min(qr_top - QR_SIZE - 28, y - 8))
    if sheet.status in STATUS_STAMP:  # a reprint of a batch shows which coupons are no longer any use
        _stamp(canvas, f"Kupon nieważny: {STATUS_STAMP[sheet.status]}", bottom - 60)

    canvas.setFont(FONT, 8)
    of = f" z {count}" if count else ""
    canvas.drawString(MARGIN, MARGIN - 12, f"Kupon {page}{of}, partia {sheet.batch_id}")
    canvas.drawString(
        MARGIN,
        MARGIN - 24,
        "Kod QR jest podpisany kluczem hubu (format HUB1): jego autentyczność można sprawdzić bez połączenia z siecią.",
    )


def _field(canvas: Canvas, label: str, lines: list[str], y: float, font: str = FONT, size: float = 11) -> float:
    canvas.setFont(FONT, 9)
    canvas.setFillColorRGB(0.35, 0.35, 0.35)
    canvas.drawString(COLUMN_X, y - 9, label)
    canvas.setFillColorRGB(0, 0, 0)
    y -= 9 + 4
    for i, line in enumerate(lines):
        line_font = font if i == 0 else FONT
        line_size = size if i == 0 else 11
        y -= line_size + 2
        canvas.setFont(line_font, line_size)
        canvas.drawString(COLUMN_X, y, line)
    return y - 12


def _instructions(canvas: Canvas, top: float) -> float:
    width = WIDTH - 2 * MARGIN - 24
    clerk = simpleSplit(CLERK_INSTRUCTION, FONT_BOLD, 12, width)
    holder = simpleSplit(HOLDER_INSTRUCTION, FONT, 10, width)
    height = 16 + 16 * len(clerk) + 8 + 13 * len(holder) + 8
    canvas.setLineWidth(1)
    canvas.roundRect(MARGIN, top - height, WIDTH - 2 * MARGIN, height, 6, stroke=1, fill=0)
    y = top - 12
    canvas.setFont(FONT_BOLD, 12)
    for line in clerk:
        y -= 16
        canvas.drawString(MARGIN + 12, y + 4, line)
    y -= 8
    canvas.setFont(FONT, 10)
    for line in holder:
        y -= 13
        canvas.drawString(MARGIN + 12, y + 4, line)
    return top - height


def _stamp(canvas: Canvas, text: str, y: float) -> None:
    canvas.saveState()
    canvas.setFillColorRGB(0.8, 0, 0)
    canvas.setFont(FONT_BOLD, 26)
    canvas.drawCentredString(WIDTH / 2, y, text)
    canvas.restoreState()


def _warsaw(at: datetime) -> str:
    return at.astimezone(WARSAW).strftime("%d.%m.%Y, godz. %H:%M")
