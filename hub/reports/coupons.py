"""`coupons`: the coupon register, with totals by status, case type, issuer and office;
`expiring`: issued coupons whose validity ends within the next days (operator)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select

from hub.access import Actor
from hub.clock import business_day
from hub.companies.models import Company
from hub.coupons.models import ISSUED, Coupon, CouponBatch, Redemption
from hub.reports.model import (
    AMOUNT,
    CASE_TYPE_CODE,
    COUNT,
    COUPON,
    DAY,
    INSTANT,
    PERSON_CODE,
    STATUS_CODE,
    Column,
    Report,
    Row,
    Table,
    totals_of,
)
from hub.reports.scope import ReportQuery, company_scope, operator_only

if TYPE_CHECKING:
    from hub.reports.service import ReportService

EXPIRING_WITHIN_DAYS = 7

REGISTER_COLUMNS = (
    Column("coupon_id", "Kupon", COUPON),
    Column("nip", "NIP firmy"),
    Column("case_type", "Rodzaj sprawy", code=CASE_TYPE_CODE),
    Column("status", "Status", code=STATUS_CODE),
    Column("amount", "Kwota", AMOUNT),
    Column("captured", "Pobrano", AMOUNT),
    Column("issued_at", "Wydany", INSTANT),
    Column("expires_at", "Ważny do", INSTANT),
    Column("issued_by", "Wystawił", code=PERSON_CODE),
    Column("office", "Urząd"),
    Column("case_number", "Znak sprawy"),
    Column("redeemed_at", "Wykorzystany", INSTANT),
    Column("reference", "Nr ref. firmy"),
)

# The register's grouped totals: (key, column title, title of the table, what code its values are)
REGISTER_GROUPS = (
    ("status", "Status", "Według statusu", STATUS_CODE),
    ("case_type", "Rodzaj sprawy", "Według rodzaju sprawy", CASE_TYPE_CODE),
    ("issued_by", "Wystawił", "Według wystawiającego", PERSON_CODE),
    ("office", "Urząd", "Według urzędu", None),
)


def coupon_register(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    """One row per coupon. `office` is where a redeemed coupon was used, or else the
    office an office-bound coupon is valid at; `captured` what its redemption took."""
    nip = company_scope(actor, q.nip)
    standing = and_(
        Redemption.coupon_id == Coupon.id, Redemption.reversed_at.is_(None)
    )  # a reversed redemption no longer counts
    office = func.coalesce(Redemption.office_code, Coupon.office_code)
    query = (
        select(
            Coupon.id,
            Company.nip,
            Coupon.case_type,
            Coupon.status,
            Coupon.amount_grosze,
            Redemption.captured_grosze,
            Coupon.issued_at,
            Coupon.expires_at,
            CouponBatch.issued_by,
            office,
            Redemption.case_number,
            Redemption.redeemed_at,
            CouponBatch.reference,
        )
        .join(Company, Company.id == Coupon.company_id)
        .join(CouponBatch, CouponBatch.id == Coupon.batch_id)
        .outerjoin(Redemption, standing)
        .order_by(Company.nip, Coupon.issued_at, Coupon.batch_id, Coupon.position)
    )
    start, end = q.instants()
    if nip is not None:
        query = query.where(Company.nip == nip)
    if q.status is not None:
        query = query.where(Coupon.status == q.status)
    if q.case_type is not None:
        query = query.where(Coupon.case_type == q.case_type)
    if q.issued_by is not None:
        query = query.where(CouponBatch.issued_by == q.issued_by)
    if q.office is not None:
        query = query.where(office == q.office)
    if start is not None:
        query = query.where(Coupon.issued_at >= start)
    if end is not None:
        query = query.where(Coupon.issued_at < end)
    keys = [c.key for c in REGISTER_COLUMNS]
    with src.db.read() as session:
        rows = tuple(_register_row(dict(zip(keys, values, strict=True))) for values in session.execute(query))
    return Report(
        name="coupons",
        title="Rejestr kuponów",
        parameters=src.parameters(q, nip=nip),
        columns=REGISTER_COLUMNS,
        rows=rows,
        totals={"coupons": len(rows), **totals_of(REGISTER_COLUMNS, rows)},
        groups=tuple(
            _grouped(rows, key, column_title, title, code) for key, column_title, title, code in REGISTER_GROUPS
        ),
    )


def _register_row(row: Row) -> Row:
    row["captured"] = row["captured"] or 0
    return row


def _grouped(rows: tuple[Row, ...], key: str, column_title: str, title: str, code: str | None) -> Table:
    sums: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        s = sums[row[key]]
        s[0] += 1
        s[1] += row["amount"]
        s[2] += row["captured"]
    columns = (
        Column(key, column_title, code=code),
        Column("coupons", "Kupony", COUNT),
        Column("amount", "Kwota", AMOUNT),
        Column("captured", "Pobrano", AMOUNT),
    )
    ordered = sorted(sums.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return Table(
        key,
        title,
        columns,
        tuple({key: value, "coupons": n, "amount": a, "captured": c} for value, (n, a, c) in ordered),
    )


EXPIRING_COLUMNS = (
    Column("nip", "NIP firmy"),
    Column("company", "Firma"),
    Column("coupon_id", "Kupon", COUPON),
    Column("case_type", "Rodzaj sprawy", code=CASE_TYPE_CODE),
    Column("amount", "Kwota", AMOUNT),
    Column("expires_at", "Ważny do", INSTANT),
    Column("expires_on", "Dzień wygaśnięcia", DAY),
)


def expiring(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    """Issued coupons whose validity ends within EXPIRING_WITHIN_DAYS, per company,
    soonest first. A coupon already past its expiry whose hold `hub coupons expire`
    has not released yet is listed too: its money is still held."""
    operator_only(actor, "expiring")
    horizon = src.clock() + timedelta(days=EXPIRING_WITHIN_DAYS)
    query = (
        select(Company.nip, Company.name, Coupon.id, Coupon.case_type, Coupon.amount_grosze, Coupon.expires_at)
        .join(Company, Company.id == Coupon.company_id)
        .where(Coupon.status == ISSUED, Coupon.expires_at <= horizon)
        .order_by(Company.nip, Coupon.expires_at, Coupon.id)
    )
    if q.nip is not None:
        query = query.where(Company.nip == q.nip)
    with src.db.read() as session:
        rows: tuple[Row, ...] = tuple(
            {
                "nip": nip,
                "company": name,
                "coupon_id": cid,
                "case_type": case_type,
                "amount": amount,
                "expires_at": at,
                "expires_on": business_day(at),
            }
            for nip, name, cid, case_type, amount, at in session.execute(query)
        )
    per_company: dict[str, Row] = {}
    for row in rows:
        group = per_company.setdefault(
            row["nip"],
            {"nip": row["nip"], "company": row["company"], "coupons": 0, "amount": 0, "first": row["expires_on"]},
        )
        group["coupons"] += 1
        group["amount"] += row["amount"]
    company_columns = (
        Column("nip", "NIP firmy"),
        Column("company", "Firma"),
        Column("coupons", "Kupony", COUNT),
        Column("amount", "Kwota", AMOUNT),
        Column("first", "Najwcześniej", DAY),
    )
    return Report(
        name="expiring",
        title=f"Kupony wygasające w ciągu {EXPIRING_WITHIN_DAYS} dni",
        parameters={**src.parameters(q), "until": business_day(horizon).isoformat()},
        columns=EXPIRING_COLUMNS,
        rows=rows,
        totals={"coupons": len(rows), **totals_of(EXPIRING_COLUMNS, rows)},
        groups=(Table("companies", "Według firmy", company_columns, tuple(per_company.values())),),
    )
