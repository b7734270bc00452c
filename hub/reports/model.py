"""What every report is: a title, typed columns, rows, a totals row, and where it
helps a summary, totals grouped by something, and a chart.

Values inside a report are the domain's: amounts are `int` grosze, coupon ids the
storage form, days `date`, instants aware UTC `datetime`. Only the renderers
(hub/reports/render.py) turn them into text, each format its own way, from the
column's kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Column kinds: how a renderer writes a value.
TEXT = "text"
AMOUNT = "amount"  # int grosze -> "161.50" (csv, json), "161,50 zł" (pdf)
COUNT = "count"  # int
COUPON = "coupon"  # storage form -> XXXX-XXXX-XXXX-XXXX
DAY = "day"  # date -> 2026-03-10
INSTANT = "instant"  # aware datetime -> 2026-03-10T09:30:00Z (csv, json), Warsaw time (pdf)

# What a code in a TEXT column means, for the forms people read (pdf, the portal,
# the Excel csv), which show its Polish label (hub.words); json and the RFC 4180
# csv keep the code.
STATUS_CODE = "coupon_status"
ENTRY_KIND_CODE = "statement_kind"
CASE_TYPE_CODE = "case_type"
PERSON_CODE = "person"

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    key: str  # the RFC 4180 csv's header and the json key
    title: str  # the PDF's and the Excel csv's column title, in Polish
    kind: str = TEXT
    code: str | None = None  # a TEXT column holding codes: which (STATUS_CODE...)

    @property
    def numeric(self) -> bool:
        return self.kind in (AMOUNT, COUNT)


@dataclass(frozen=True)
class Table:
    """A small table beside the main one, e.g. totals grouped by status."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Figure:
    """A single labelled value shown above the table (opening balance, clearing's pending)."""

    key: str
    title: str
    value: Any
    kind: str = AMOUNT


@dataclass(frozen=True)
class Chart:
    """A bar chart: one bar per label."""

    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    value_title: str = ""


@dataclass(frozen=True)
class Report:
    name: str  # as typed in `hub report NAME`
    title: str  # Polish, printed on the PDF
    parameters: dict[str, str]  # what was asked, in text form ("from": "2026-03-01")
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    totals: Row | None = None  # sums for the numeric columns, keyed like a row
    figures: tuple[Figure, ...] = ()
    groups: tuple[Table, ...] = ()
    chart: Chart | None = None
    generated_on: date | None = field(default=None, compare=False)
    case_type_names: dict[str, str] = field(default_factory=dict, compare=False)  # fees.toml: code -> name


def totals_of(columns: tuple[Column, ...], rows: tuple[Row, ...]) -> Row:
    """The totals row: the sum of every numeric column (the PDF labels it "Razem")."""
    return {c.key: sum(r[c.key] for r in rows) for c in columns if c.numeric}
