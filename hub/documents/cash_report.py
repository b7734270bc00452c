"""The daily cash report (raport kasowy) of one desk, as PDF and CSV.

Every payment of the desk and day in receipt order, voided ones marked (they stay
on the report, as the receipt numbers have no gaps) and left out of every total;
then the totals by method (fees, handling fees, total) less voids. The figures
come from hub.cashdesk.service.DeskTotals, the same sums CloseDay keeps.

CSV: one `payment` row per payment, then `total` rows for CASH, CARD and ALL, in
one of the report dialects (hub.reports.render.CSV_DIALECTS): for a Polish Excel by
default (BOM, `;`, Polish titles, Warsaw time, `161,50`, Polish labels), or RFC 4180
for machines (keys, UTC `2026-03-10T09:30:00Z`, `161.50`, codes). A day closed with a
cash count adds rows for the expected, counted and difference amounts (the difference
is counted - expected, below zero a shortage).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit

from hub import words
from hub.cashdesk.models import CARD, CASH, METHODS, PaymentStatus
from hub.cashdesk.service import DeskTotals
from hub.clock import WARSAW, wire_time
from hub.documents.pdf import FONT, FONT_BOLD, FONT_MONO, new_canvas
from hub.documents.receipt import warsaw_time
from hub.money import format_pln
from hub.reports.csvout import EXCEL_PL, csv_writer

if TYPE_CHECKING:
    from hub.cashdesk.service import CashReport, ClosedDay, PaymentRecord

CSV_COLUMNS = (
    "row",
    "receipt_number",
    "payment_id",
    "paid_at",
    "cashier",
    "system",
    "case_number",
    "method",
    "card_auth_code",
    "items_total",
    "handling_fee",
    "total",
    "status",
    "voided_at",
    "voided_by",
    "void_reason",
    "count",
)


def method_totals(report: CashReport, method: str | None) -> DeskTotals:
    """The report's totals of one method (None: all), voids left out."""
    return DeskTotals.of(p for p in report.payments if method is None or p.method == method)


# -- CSV ----------------------------------------------------------------------


CSV_TITLES = (
    "wiersz",
    "numer potwierdzenia",
    "identyfikator wpłaty",
    "przyjęto",
    "kasjer",
    "system",
    "znak sprawy",
    "forma płatności",
    "kod autoryzacji",
    "opłaty",
    "opłata manipulacyjna",
    "razem",
    "stan",
    "unieważniono",
    "unieważnił",
    "powód unieważnienia",
    "liczba",
)
ROW_KIND_PL = {
    "payment": "wpłata",
    "total": "suma",
    "cash_expected": "gotówka wg wpłat",
    "cash_counted": "gotówka policzona",
    "cash_difference": "różnica w kasie",
}


def cash_report_csv(report: CashReport, dialect: str = EXCEL_PL) -> str:
    """The report's rows in `dialect` (EXCEL_PL for people, RFC4180 for machines)."""
    excel = dialect == EXCEL_PL
    out = io.StringIO()
    writer = csv_writer(out, dialect)
    amount = words.format_decimal_pl if excel else format_pln
    instant = (lambda at: words.format_datetime_pl(at, seconds=True)) if excel else wire_time
    code = (lambda labels, c: words.label(labels, c)) if excel else (lambda labels, c: c)
    person = words.person_pl if excel else (lambda name: name)
    writer.writerow(CSV_TITLES if excel else CSV_COLUMNS)
    for p in report.payments:
        writer.writerow(
            [
                code(ROW_KIND_PL, "payment"),
                p.receipt_number,
                p.payment_id,
                instant(p.paid_at),
                person(p.cashier),
                code(words.SYSTEM, p.system),
                p.case_number,
                code(words.PAYMENT_METHOD, p.method),
                p.card_auth_code or "",
                amount(p.items_total_grosze),
                amount(p.handling_fee_grosze),
                amount(p.total_grosze),
                code(
                    words.PAYMENT_STATUS, PaymentStatus.VOIDED if p.voided else PaymentStatus.PAID
                ),
                instant(p.voided_at) if p.voided_at else "",
                person(p.voided_by or ""),
                p.void_reason or "",
                "",
            ]
        )
    for method in (*METHODS, None):
        t = method_totals(report, method)
        writer.writerow(
            [
                code(ROW_KIND_PL, "total"),
                "",
                "",
                "",
                "",
                "",
                "",
                code(words.PAYMENT_METHOD, method) if method else ("razem" if excel else "ALL"),
                "",
                amount(t.total_grosze - t.handling_fee_total_grosze),
                amount(t.handling_fee_total_grosze),
                amount(t.total_grosze),
                "",
                "",
                "",
                "",
                t.payment_count,
            ]
        )
    count = report.closed.count if report.closed is not None else None
    if count is not None:
        for row, grosze in (
            ("cash_expected", count.expected_grosze),
            ("cash_counted", count.counted_grosze),
            ("cash_difference", count.difference_grosze),
        ):
            writer.writerow(
                [
                    code(ROW_KIND_PL, row),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    code(words.PAYMENT_METHOD, CASH),
                    "",
                    "",
                    "",
                    amount(grosze),
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return out.getvalue()


# -- PDF ----------------------------------------------------------------------

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
    canvas = new_canvas(
        out, title=f"Raport kasowy {report.office.code}/{report.desk_id} {report.day.isoformat()}"
    )
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
    canvas.drawString(
        LEFT, y, f"{report.office.name} ({report.office.code}), stanowisko kasowe {report.desk_id}"
    )
    y -= 5 * mm
    canvas.drawString(LEFT, y, f"Dzień: {report.day.strftime('%d.%m.%Y')}")
    y -= 5 * mm
    if report.closed is not None:
        status = f"Dzień zamknięty {warsaw_time(report.closed.closed_at)} (czas warszawski) przez {report.closed.closed_by}"
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
    for (title, width, right), text in zip(COLUMNS, cells):
        font = FONT_MONO if title == "Nr dowodu KP" else FONT
        canvas.setFont(font, 8 if font == FONT_MONO else 8.5)
        if text is None:
            for i, line in enumerate(case_lines):
                canvas.drawString(x, y - i * ROW, line)
        elif right:
            canvas.drawRightString(x + width - 1 * mm, y, text)
        else:
            canvas.drawString(
                x, y, simpleSplit(text, font, 8.5, width - 1.5 * mm)[0] if text else ""
            )
        x += width
    canvas.restoreState()
    y -= ROW * len(case_lines)
    if p.voided:
        canvas.saveState()
        canvas.setFillColorRGB(0.75, 0, 0)
        canvas.setFont(FONT_BOLD, 8.5)
        note = (
            f"UNIEWAŻNIONA {warsaw_time(p.voided_at)}, zatwierdził {p.voided_by}: {p.void_reason}"
        )
        canvas.drawString(
            LEFT + COLUMNS[0][1],
            y,
            simpleSplit(note, FONT_BOLD, 8.5, RIGHT - LEFT - COLUMNS[0][1])[0],
        )
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
        for (x, _, right), value in zip(columns, values):
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
        canvas.drawString(
            LEFT, y, f"Dzień zamknięto po terminie za zgodą: {closed.late_close_supervisor}"
        )


def _footer(canvas, report: CashReport) -> None:
    canvas.setFont(FONT, 7.5)
    canvas.drawString(
        LEFT,
        BOTTOM,
        f"Raport kasowy {report.office.code}/{report.desk_id} z dnia {report.day.isoformat()}",
    )
    canvas.drawRightString(RIGHT, BOTTOM, f"strona {canvas.getPageNumber()}")
