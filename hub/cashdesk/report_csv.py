"""The daily cash report (raport kasowy) of one desk as CSV, and the per-method totals
its PDF (hub.adapters.pdf.cash_report) prints too.

Every payment of the desk and day in receipt order, voided ones marked (they stay
on the report, as the receipt numbers have no gaps) and left out of every total;
then the totals by method (fees, handling fees, total) less voids. The figures
come from hub.cashdesk.service.DeskTotals, the same sums CloseDay keeps.

CSV: one `payment` row per payment, then `total` rows for CASH, CARD and ALL, in
one of the report dialects (hub.reports.csvout.CSV_DIALECTS): for a Polish Excel by
default (BOM, `;`, Polish titles, Warsaw time, `161,50`, Polish labels), or RFC 4180
for machines (keys, UTC `2026-03-10T09:30:00Z`, `161.50`, codes). A day closed with a
cash count adds rows for the expected, counted and difference amounts (the difference
is counted - expected, below zero a shortage).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from hub import words
from hub.cashdesk.models import CASH, METHODS
from hub.cashdesk.service import DeskTotals
from hub.clock import wire_time
from hub.money import format_pln
from hub.reports.csvout import EXCEL_PL, csv_writer

if TYPE_CHECKING:
    from hub.cashdesk.service import CashReport
PAID, VOIDED = "PAID", "VOIDED"
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
                code(words.PAYMENT_STATUS, VOIDED if p.voided else PAID),
                instant(p.voided_at) if p.voided_at else "",
                person(p.voided_by or ""),
                p.void_reason or "",
                "",
            ]
        )
    for method in (*METHODS, None):
        t = method_totals(report, method)
        method_text = code(words.PAYMENT_METHOD, method) if method else ("razem" if excel else "ALL")
        items, fees, total = t.total_grosze - t.handling_fee_total_grosze, t.handling_fee_total_grosze, t.total_grosze
        writer.writerow(
            _summary_row(
                code(ROW_KIND_PL, "total"), method_text, amount(items), amount(fees), amount(total), t.payment_count
            )
        )
    count = report.closed.count if report.closed is not None else None
    if count is not None:
        for row, grosze in (
            ("cash_expected", count.expected_grosze),
            ("cash_counted", count.counted_grosze),
            ("cash_difference", count.difference_grosze),
        ):
            writer.writerow(
                _summary_row(code(ROW_KIND_PL, row), code(words.PAYMENT_METHOD, CASH), "", "", amount(grosze))
            )
    return out.getvalue()


def _summary_row(kind: str, method: str, items: str, fees: str, total: str, count: int | str = "") -> list[object]:
    """A row of totals in CSV_COLUMNS' places: its kind, the method, the three amounts and
    the payment count; a payment's own columns stay empty."""
    return [kind, *[""] * 6, method, "", items, fees, total, *[""] * 4, count]
