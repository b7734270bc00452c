"""The operator's money reports, read straight from the ledger and set beside it.

`open-holds`: per company, the issued coupons and what they hold, next to the
company account's pending debits; with the clearing account's pending credits. A
difference in any row means the coupons and the ledger disagree.

`trial-balance`: every ledger account with its posted debits and credits, its
balance (debits less credits) and its pending totals. Double entry makes the
balances sum to zero and pending debits equal pending credits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from hub.access import Actor
from hub.companies.models import Company
from hub.coupons.models import ISSUED, Coupon
from hub.ledger import Ledger
from hub.ledger.chart import CLEARING, COMPANY, company_account
from hub.ledger.models import LedgerAccount
from hub.reports.model import AMOUNT, COUNT, Column, Figure, Report, Row, totals_of
from hub.reports.scope import ReportQuery, operator_only

if TYPE_CHECKING:
    from hub.reports.service import ReportService

OPEN_HOLDS_COLUMNS = (
    Column("nip", "NIP firmy"),
    Column("company", "Firma"),
    Column("coupons", "Kupony ważne", COUNT),
    Column("held", "Zablokowano (kupony)", AMOUNT),
    Column("ledger_held", "Zablokowano (księga)", AMOUNT),
    Column("difference", "Różnica", AMOUNT),
)


def open_holds(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    operator_only(actor, "open-holds")
    coupons = (
        select(Coupon.company_id, func.count(), func.sum(Coupon.amount_grosze))
        .where(Coupon.status == ISSUED)
        .group_by(Coupon.company_id)
        .subquery()
    )
    query = (
        select(Company.nip, Company.name, coupons.c[1], coupons.c[2])
        .outerjoin(coupons, coupons.c.company_id == Company.id)
        .order_by(Company.nip)
    )
    if q.nip is not None:
        query = query.where(Company.nip == q.nip)
    with src.db.read() as session:
        found = session.execute(query).all()
        pending = dict(
            session.execute(
                select(LedgerAccount.code, LedgerAccount.debits_pending).where(LedgerAccount.kind == COMPANY)
            ).all()
        )
        clearing = _clearing_pending(session)
    listed: list[Row] = []
    for nip, name, count, held in found:
        held, ledger_held = int(held or 0), pending.get(company_account(nip), 0)
        if count or ledger_held:
            listed.append(
                {
                    "nip": nip,
                    "company": name,
                    "coupons": count or 0,
                    "held": held,
                    "ledger_held": ledger_held,
                    "difference": held - ledger_held,
                }
            )
    rows = tuple(listed)
    return Report(
        name="open-holds",
        title="Otwarte blokady kuponów",
        parameters=src.parameters(q),
        columns=OPEN_HOLDS_COLUMNS,
        rows=rows,
        totals=totals_of(OPEN_HOLDS_COLUMNS, rows),
        figures=(Figure("clearing_pending", "Rozliczenie kuponów: blokady w toku (księga)", clearing),),
    )


def _clearing_pending(session) -> int:
    account = session.scalars(select(LedgerAccount).where(LedgerAccount.code == CLEARING)).one_or_none()
    return 0 if account is None else account.credits_pending  # no coupon was ever issued


TRIAL_BALANCE_COLUMNS = (
    Column("account", "Konto"),
    Column("kind", "Rodzaj"),
    Column("debits", "Winien", AMOUNT),
    Column("credits", "Ma", AMOUNT),
    Column("balance", "Saldo (Wn − Ma)", AMOUNT),
    Column("debits_pending", "Winien w toku", AMOUNT),
    Column("credits_pending", "Ma w toku", AMOUNT),
)


def trial_balance(src: ReportService, actor: Actor, q: ReportQuery) -> Report:
    operator_only(actor, "trial-balance")
    with src.db.read() as session:
        accounts = Ledger(session, src.clock).trial_balance()
    rows = tuple(
        {
            "account": code,
            "kind": kind,
            "debits": b.debits_posted,
            "credits": b.credits_posted,
            "balance": b.debits_posted - b.credits_posted,
            "debits_pending": b.debits_pending,
            "credits_pending": b.credits_pending,
        }
        for code, kind, b in accounts
    )
    return Report(
        name="trial-balance",
        title="Zestawienie obrotów i sald",
        parameters=src.parameters(q),
        columns=TRIAL_BALANCE_COLUMNS,
        rows=rows,
        totals=totals_of(TRIAL_BALANCE_COLUMNS, rows),
    )
