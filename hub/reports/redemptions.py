"""`redemptions`: per office and business day, the coupons used, what was captured
for the office, what reversals gave back, and the net; with a chart of coupons used
per day.

A redemption counts on the day it was made; its reversal on the day of the
reversal, so each day's net is what that day moved on the office's ledger account
(credited on capture, debited on reversal).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select

from hub.access import Actor
from hub.clock import business_day
from hub.companies.models import Company
from hub.coupons.models import Coupon, Redemption
from hub.reports.model import AMOUNT, COUNT, DAY, Chart, Column, Report, Row, totals_of
from hub.reports.scope import ReportQuery, office_scope

if TYPE_CHECKING:
    from hub.reports.service import ReportService

COLUMNS = (
    Column("office", "Urząd"),
    Column("office_name", "Nazwa urzędu"),
    Column("day", "Dzień", DAY),
    Column("redemptions", "Wykorzystane", COUNT),
    Column("captured", "Pobrano", AMOUNT),
    Column("reversals", "Cofnięte", COUNT),
    Column("reversed", "Zwrócono", AMOUNT),
    Column("net", "Netto", AMOUNT),
)


def redemptions(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    offices, nip = office_scope(actor, q.office, q.nip)
    start, end = q.instants()
    query = select(Redemption.office_code, Redemption.business_day, Redemption.captured_grosze, Redemption.reversed_at)
    if nip is not None:
        query = (
            query.join(Coupon, Coupon.id == Redemption.coupon_id)
            .join(Company, Company.id == Coupon.company_id)
            .where(Company.nip == nip)
        )
    if offices is not None:
        query = query.where(Redemption.office_code.in_(sorted(offices)))
    if start is not None or end is not None:
        query = query.where(
            or_(_between(Redemption.redeemed_at, start, end), _between(Redemption.reversed_at, start, end))
        )

    days: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with src.db.read() as session:
        for office, day, captured, reversed_at in session.execute(query.execution_options(yield_per=2000)):
            if q.within(day):
                d = days[(office, day)]
                d[0] += 1
                d[1] += captured
            if reversed_at is not None and q.within(business_day(reversed_at)):
                d = days[(office, business_day(reversed_at))]
                d[2] += 1
                d[3] += captured
    rows = tuple(
        {
            "office": office,
            "office_name": src.office_name(office),
            "day": day,
            "redemptions": n,
            "captured": captured,
            "reversals": r,
            "reversed": reversed_,
            "net": captured - reversed_,
        }
        for (office, day), (n, captured, r, reversed_) in sorted(days.items())
    )
    return Report(
        name="redemptions",
        title="Wykorzystanie kuponów w urzędach",
        parameters=src.parameters(q, nip=nip, office=",".join(sorted(offices)) if offices else None),
        columns=COLUMNS,
        rows=rows,
        totals=totals_of(COLUMNS, rows),
        chart=_used_per_day(rows, q),
    )


def _between(column, start, end):
    conditions = [column.is_not(None)]
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return and_(*conditions)


def _used_per_day(rows: tuple[Row, ...], q: ReportQuery) -> Chart | None:
    """Coupons used per business day over every office, days without any shown as 0."""
    per_day: dict[date, int] = defaultdict(int)
    for row in rows:
        per_day[row["day"]] += row["redemptions"]
    if not per_day:
        return None
    first = q.date_from or min(per_day)
    last = q.date_to or max(per_day)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return Chart(
        title="Kupony wykorzystane dziennie",
        labels=tuple(d.isoformat() for d in span),
        values=tuple(per_day.get(d, 0) for d in span),
        value_title="kupony",
    )
