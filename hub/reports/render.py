"""A report as csv, json or pdf.

csv, in one of two dialects (hub.reports.csvout), only the rows (totals, figures
and grouped totals are in the json and the pdf): `excel-pl` (the default) with the
Polish column titles, amounts `1234,56`, days `10.03.2026`, Warsaw time and Polish
labels; `rfc4180` with the column keys, amounts `161.50`, coupon ids
`XXXX-XXXX-XXXX-XXXX`, days `2026-03-10`, instants `2026-03-10T09:30:00Z`, codes.

json: the same rows with the same text for amounts, ids and times (counts are
numbers), plus totals, figures, grouped totals and the chart's series.

pdf: drawn by an adapter (hub.adapters.pdf.report) that hub.app hands to the
report service as a `ReportPdf`; `pdf_text` is how it prints a value.
"""

from __future__ import annotations

import io
import json
from typing import Any, Protocol

from hub import words
from hub.clock import wire_time
from hub.ids import format_coupon_id
from hub.money import format_pln
from hub.reports.csvout import EXCEL_PL, RFC4180, csv_writer
from hub.reports.model import (
    AMOUNT,
    CASE_TYPE_CODE,
    COUNT,
    COUPON,
    DAY,
    ENTRY_KIND_CODE,
    INSTANT,
    PERSON_CODE,
    STATUS_CODE,
    Column,
    Report,
    Row,
)

FORMATS = ("csv", "json", "pdf")


class ReportPdf(Protocol):
    """Draws a report as PDF (hub.adapters.pdf.report.to_pdf)."""

    def __call__(self, report: Report) -> bytes: ...


def render(report: Report, fmt: str, csv_dialect: str = EXCEL_PL, *, pdf: ReportPdf) -> bytes:
    if fmt == "csv":
        return to_csv(report, csv_dialect).encode("utf-8")
    if fmt == "json":
        return (json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if fmt == "pdf":
        return pdf(report)
    raise ValueError(f"unknown report format {fmt!r}")


# -- csv and json: the same text for every value ---------------------------


def text(value: Any, kind: str) -> str | int | None:
    """A value as csv and json write it. Counts stay numbers (csv writes them as digits)."""
    if value is None:
        return None
    if kind == AMOUNT:
        return format_pln(value)
    if kind == COUPON:
        return format_coupon_id(value)
    if kind == INSTANT:
        return wire_time(value)
    if kind == DAY:
        return value.isoformat()
    if kind == COUNT:
        return value
    return str(value)


def _row_text(columns: tuple[Column, ...], row: Row) -> dict[str, Any]:
    return {c.key: text(row.get(c.key), c.kind) for c in columns}


def to_csv(report: Report, dialect: str = EXCEL_PL) -> str:
    out = io.StringIO()
    writer = csv_writer(out, dialect)
    if dialect == RFC4180:
        writer.writerow([c.key for c in report.columns])
        for row in report.rows:
            writer.writerow(["" if v is None else v for v in _row_text(report.columns, row).values()])
    else:
        writer.writerow([c.title for c in report.columns])
        for row in report.rows:
            writer.writerow([excel_text(row.get(c.key), c, report.case_type_names) for c in report.columns])
    return out.getvalue()


def excel_text(value: Any, column: Column, case_type_names: dict[str, str] | None = None) -> str:
    """A value as the Excel csv writes it: numbers a Polish Excel reads as numbers."""
    if value is None:
        return ""
    if column.kind == AMOUNT:
        return words.format_decimal_pl(value)
    if column.kind == COUNT:
        return str(value)
    if column.kind == INSTANT:
        return words.format_datetime_pl(value, seconds=True)
    if column.kind == DAY:
        return words.format_date_pl(value)
    return person_text(value, column, case_type_names)


def label_of(value: Any, column: Column, case_type_names: dict[str, str] | None = None) -> Any:
    """A code as a person reads it (hub.words); any other value as it is."""
    if value is None or column.code is None:
        return value
    if column.code == STATUS_CODE:
        return words.coupon_status_pl(value)
    if column.code == ENTRY_KIND_CODE:
        return words.statement_kind_pl(value)
    if column.code == CASE_TYPE_CODE:
        return words.case_type_pl(value, case_type_names or {})
    if column.code == PERSON_CODE:
        return words.person_pl(value)
    return value


def person_text(value: Any, column: Column, case_type_names: dict[str, str] | None = None) -> str:
    """A cell as the pdf and the portal show it: Polish labels, amounts, Warsaw time."""
    return pdf_text(label_of(value, column, case_type_names), column.kind)


def to_json(report: Report) -> dict[str, Any]:
    kinds = {c.key: c.kind for c in report.columns}
    return {
        "report": report.name,
        "title": report.title,
        "generated_on": report.generated_on.isoformat() if report.generated_on else None,
        "parameters": report.parameters,
        "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in report.columns],
        "rows": [_row_text(report.columns, row) for row in report.rows],
        "totals": None
        if report.totals is None
        else {k: text(v, kinds.get(k, COUNT)) for k, v in report.totals.items()},
        "figures": {f.key: text(f.value, f.kind) for f in report.figures},
        "groups": {g.key: [_row_text(g.columns, row) for row in g.rows] for g in report.groups},
        "chart": None
        if report.chart is None
        else {"title": report.chart.title, "labels": list(report.chart.labels), "values": list(report.chart.values)},
    }


# -- pdf: the text of a value -------------------------------------------------


def pdf_text(value: Any, kind: str) -> str:
    """A value as the pdf prints it: Polish amounts, Warsaw time."""
    if value is None or value == "":
        return "—"
    if kind == AMOUNT:
        return words.format_amount_pl(value)
    if kind == COUPON:
        return format_coupon_id(value)
    if kind == INSTANT:
        return words.format_datetime_pl(value)
    if kind == DAY:
        return words.format_date_pl(value)
    return str(value)
