"""The daily cash report (raport kasowy) of one desk as PDF: every payment in
receipt order, voided ones marked and left out of every total, then the totals by
method (hub.cashdesk.report_csv.method_totals, the sums CloseDay keeps) and, for a
day closed with a cash count, the count."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit

from hub import words
from hub.adapters.pdf.page import FONT, FONT_BOLD, FONT_MONO, new_canvas
from hub.adapters.pdf.receipt import warsaw_time
from hub.cashdesk.models import CARD, CASH
from hub.cashdesk.report_csv import method_totals
from hub.clock import WARSAW

if TYPE_CHECKING:
    from hub.cashdesk.service import CashReport, ClosedDay, PaymentRecord


PAGE = landscape(A4)
WIDTH, HEIGHT = PAGE
LEFT, RIGHT, TOP, BOTTOM = 15 * mm, WIDTH - 15 * mm, HEIGHT - 15 * mm, 15 * mm
ROW = 4.6 * mm

# (title, width, right-aligned)
COLUMNS = (
    ("Lp.", 9 * mm, False),
    ("Nr dowodu KP", 46 * mm, False),
    ("Godzina", 18 * mm, False),
    ("Kasjer", 30 * mm, False),
    ("System / znak sprawy", 62 * mm, False),
    ("Forma", 30 * mm, False),
    ("Opłaty", 24 * mm, True),
    ("Opł. manip.", 24 * mm, True),
    ("Razem", 24 * mm, True),
)  # 267 mm: the landscape page less its margins


def cash_report_pdf(report: CashReport) -> bytes:
    out = io.BytesIO()
    canvas = new_canvas(out, title=f"Raport kasowy {report.office.code}/{report.desk_id} {report.day.isoformat()}")
    canvas.setPageSize(PAGE)
    y = _header(canvas, report)
    y = _table(canvas, report, y)
    _summary(canvas, report, y)
    _footer(canvas, report)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _header(canvas, report: CashReport) -> float:
    y = TOP
    canvas.setFont(FONT_BOLD, 15)
    canvas.drawString(LEFT, y, "Raport kasowy")
    if report.closed is not None:
        canvas.setFont(FONT_MONO, 12)
        canvas.drawRightString(RIGHT, y, report.closed.report_id)
    y -= 7 * mm
    canvas.setFont(FONT, 10)
    canvas.drawString(LEFT, y, f"{report.office.name} ({report.office.code}), stanowisko kasowe {report.desk_id}")
    y -= 5 * mm
    canvas.drawString(LEFT, y, f"Dzień: {report.day.strftime('%d.%m.%Y')}")
    y -= 5 * mm
    if report.closed is not None:
        closed = report.closed
        status = f"Dzień zamknięty {warsaw_time(closed.closed_at)} (czas warszawski) przez {closed.closed_by}"
    else:
        status = "Dzień niezamknięty: raport wstępny, może się jeszcze zmienić"
    canvas.setFont(FONT_BOLD if report.closed is None else FONT, 10)
    canvas.drawString(LEFT, y, status)
    return y - 9 * mm


def _table_head(canvas, y: float) -> float:
    canvas.setFont(FONT_BOLD, 8.5)
    x = LEFT
    for title, width, right in COLUMNS:
        if right:
            canvas.drawRightString(x + width - 1 * mm, y, title)
        else:
            canvas.drawString(x, y, title)
        x += width
    y -= 1.8 * mm
    canvas.line(LEFT, y, RIGHT, y)
    return y - ROW


def _table(canvas, report: CashReport, y: float) -> float:
    y = _table_head(canvas, y)
    for n, p in enumerate(report.payments, start=1):
        case_lines = simpleSplit(f"{p.system} {p.case_number}", FONT, 8.5, COLUMNS[4][1] - 2 * mm)
        height = ROW * (len(case_lines) + (1 if p.voided else 0))
        if y - height < BOTTOM + 12 * mm:
            _footer(canvas, report)
            canvas.showPage()
            canvas.setPageSize(PAGE)
            y = _table_head(canvas, TOP)
        y = _payment_row(canvas, n, p, case_lines, y)
    canvas.line(LEFT, y + ROW - 1.8 * mm, RIGHT, y + ROW - 1.8 * mm)
    if not report.payments:
        canvas.setFont(FONT, 9)
        canvas.drawString(LEFT, y, "Brak wpłat tego dnia.")
        y -= ROW
    return y - 4 * mm


def _payment_row(canvas, n: int, p: PaymentRecord, case_lines: list[str], y: float) -> float:
    method = words.PAYMENT_METHOD[p.method] + (f" {p.card_auth_code}" if p.card_auth_code else "")
    cells = (
        f"{n}.",
        p.receipt_number,
        p.paid_at.astimezone(WARSAW).strftime("%H:%M:%S"),
        p.cashier,
        None,
        method,
        words.format_amount_pl(p.items_total_grosze),
        words.format_amount_pl(p.handling_fee_grosze),
        words.format_amount_pl(p.total_grosze),
    )
    canvas.saveState()
    if p.voided:
        canvas.setFillColorRGB(0.55, 0.55, 0.55)
    x = LEFT
    for (title, width, right), text in zip(COLUMNS, cells, strict=True):
        font = FONT_MONO if title == "Nr dowodu KP" else FONT
        canvas.setFont(font, 8 if font == FONT_MONO else 8.5)
        if text is None:
            for i, line in enumerate(case_lines):
                canvas.drawString(x, y - i * ROW, line)
        elif right:
            canvas.drawRightString(x + width - 1 * mm, y, text)
        else:
            canvas.drawString(x, y, simpleSplit(text, font, 8.5, width - 1.5 * mm)[0] if text else "")
        x += width
    canvas.restoreState()
    y -= ROW * len(case_lines)
    if p.voided:
        canvas.saveState()
        canvas.setFillColorRGB(0.75, 0, 0)
        canvas.setFont(FONT_BOLD, 8.5)
        note = f"UNIEWAŻNIONA {warsaw_time(p.voided_at)}, zatwierdził {p.voided_by}: {p.void_reason}"
        canvas.drawString(LEFT + COLUMNS[0][1], y, simpleSplit(note, FONT_BOLD, 8.5, RIGHT - LEFT - COLUMNS[0][1])[0])
        canvas.restoreState()
        y -= ROW
    return y


def _summary(canvas, report: CashReport, y: float) -> None:
    if y - 75 * mm < BOTTOM:
        _footer(canvas, report)
        canvas.showPage()
        canvas.setPageSize(PAGE)
        y = TOP
    all_totals = method_totals(report, None)
    canvas.setFont(FONT_BOLD, 10.5)
    canvas.drawString(LEFT, y, "Podsumowanie (bez wpłat anulowanych)")
    y -= 6 * mm
    columns = (
        (LEFT, "Forma płatności", False),
        (LEFT + 75 * mm, "Liczba wpłat", True),
        (LEFT + 115 * mm, "Opłaty", True),
        (LEFT + 165 * mm, "Opłata manipulacyjna", True),
        (LEFT + 205 * mm, "Razem", True),
    )
    canvas.setFont(FONT_BOLD, 9)
    for x, title, right in columns:
        (canvas.drawRightString if right else canvas.drawString)(x, y, title)
    y -= ROW
    for label, method in (("Gotówka", CASH), ("Karta płatnicza", CARD), ("Razem", None)):
        t = method_totals(report, method)
        canvas.setFont(FONT_BOLD if method is None else FONT, 9.5)
        values = (
            label,
            str(t.payment_count),
            words.format_amount_pl(t.total_grosze - t.handling_fee_total_grosze),
            words.format_amount_pl(t.handling_fee_total_grosze),
            words.format_amount_pl(t.total_grosze),
        )
        for (x, _, right), value in zip(columns, values, strict=True):
            (canvas.drawRightString if right else canvas.drawString)(x, y, value)
        y -= ROW
    y -= 2 * mm
    canvas.setFont(FONT, 9.5)
    canvas.drawString(
        LEFT,
        y,
        f"Wpłat: {all_totals.payment_count + all_totals.voided_count}, w tym anulowanych: {all_totals.voided_count}",
    )
    if report.closed is not None:
        _cash_count(canvas, report.closed, y - 8 * mm)


def _cash_count(canvas, closed: ClosedDay, y: float) -> None:
    """The cash count at closing: expected, counted, the difference and who confirmed it."""
    canvas.setFont(FONT_BOLD, 10.5)
    canvas.drawString(LEFT, y, "Uzgodnienie gotówki w kasie")
    y -= 6 * mm
    canvas.setFont(FONT, 9.5)
    count = closed.count
    if count is None:
        canvas.drawString(LEFT, y, "Dzień zamknięto bez liczenia gotówki.")
        y -= ROW
    else:
        difference = count.difference_grosze
        kind = "zgodna" if difference == 0 else ("niedobór" if difference < 0 else "nadwyżka")
        rows = (
            ("Gotówka według wpłat", words.format_amount_pl(count.expected_grosze)),
            ("Gotówka policzona", words.format_amount_pl(count.counted_grosze)),
            (f"Różnica ({kind})", words.format_amount_pl(difference)),
        )
        for label, amount in rows:
            canvas.setFont(FONT_BOLD if label.startswith("Różnica") else FONT, 9.5)
            canvas.drawString(LEFT, y, label)
            canvas.drawRightString(LEFT + 115 * mm, y, amount)
            y -= ROW
        if count.confirmed_by:
            canvas.setFont(FONT, 9.5)
            canvas.drawString(LEFT, y, f"Różnicę zatwierdził(a): {count.confirmed_by}")
            y -= ROW
    if closed.late_close_supervisor:
        canvas.setFont(FONT, 9.5)
        canvas.drawString(LEFT, y, f"Dzień zamknięto po terminie za zgodą: {closed.late_close_supervisor}")


def _footer(canvas, report: CashReport) -> None:
    canvas.setFont(FONT, 7.5)
    canvas.drawString(
        LEFT, BOTTOM, f"Raport kasowy {report.office.code}/{report.desk_id} z dnia {report.day.isoformat()}"
    )
    canvas.drawRightString(RIGHT, BOTTOM, f"strona {canvas.getPageNumber()}")
