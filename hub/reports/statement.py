"""`statement`: a company's available balance over business days, from
hub.companies' statement: the opening balance, every entry (TOPUP, HOLD, CAPTURE,
RELEASE, ADJUSTMENT, signed) with the balance after it, and the closing balance."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from hub.access import Actor
from hub.clock import business_day
from hub.errors import InvalidRequest
from hub.ids import normalize_coupon_id
from hub.reports.model import AMOUNT, COUPON, ENTRY_KIND_CODE, INSTANT, Column, Figure, Report
from hub.reports.scope import ReportQuery
from hub.words import format_date_pl, statement_title_pl

if TYPE_CHECKING:
    from hub.reports.service import ReportService

COLUMNS = (
    Column("booked_at", "Data księgowania", INSTANT),
    Column("kind", "Rodzaj", code=ENTRY_KIND_CODE),
    Column("amount", "Kwota", AMOUNT),
    Column("balance", "Saldo po operacji", AMOUNT),
    Column("coupon_id", "Kupon", COUPON),
    Column("reference", "Tytuł"),
)


def statement(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    """Without --to: through today; without --from: from the first day of --to's month."""
    nip = q.nip if q.nip is not None else actor.company_nip
    if nip is None:
        raise InvalidRequest("the statement report needs --nip: which company's account")
    date_to = q.date_to or business_day(src.clock())
    date_from = q.date_from or date_to.replace(day=1)
    st = src.companies.statement(actor=actor, nip=nip, date_from=date_from, date_to=date_to)
    balance = st.opening_balance_grosze
    rows = []
    for e in st.entries:
        balance += e.amount_grosze
        rows.append(
            {
                "booked_at": e.booked_at,
                "kind": e.kind,
                "amount": e.amount_grosze,
                "balance": balance,
                "coupon_id": normalize_coupon_id(e.coupon_id) if e.coupon_id else None,
                "reference": statement_title_pl(e.kind, e.coupon_id, e.reference),
            }
        )
    return Report(
        name="statement",
        title=f"Wyciąg z rachunku: {st.company_name}",
        parameters=src.parameters(replace(q, date_from=date_from, date_to=date_to), nip=st.company_nip),
        columns=COLUMNS,
        rows=tuple(rows),
        totals={"amount": balance - st.opening_balance_grosze},
        figures=(
            Figure("opening", f"Saldo dostępne na początek {format_date_pl(date_from)}", st.opening_balance_grosze),
            Figure("closing", f"Saldo dostępne na koniec {format_date_pl(date_to)}", st.closing_balance_grosze),
        ),
    )
