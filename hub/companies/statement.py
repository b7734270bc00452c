"""The company statement (GetStatement, contract section 5): what moved a company's
AVAILABLE balance (posted minus held) over a range of Warsaw business days.

Every entry comes from one ledger transfer that touches the company's account,
and is its effect on `available = credits posted - debits posted - debits pending`:

    ledger transfer                          entry
    PENDING, company debited (code HOLD)     HOLD        -amount (a coupon issued, or held again)
    POST of such a hold (code CAPTURE)       RELEASE     +the hold's amount
                                             CAPTURE     -the amount captured (a redemption)
    VOID of such a hold (code RELEASE)       RELEASE     +the hold's amount (cancel, expiry)
    POSTED code REVERSAL                     CAPTURE     +amount (a capture refunded)
    POSTED code TOPUP                        TOPUP       +amount (money in from the bank)
    POSTED, any other code (ADJUSTMENT...)   ADJUSTMENT  +credited / -debited

A PENDING transfer that credits the company changes nothing available and is
left out. So the opening balance (available at the start
of `From`) plus the entries is the closing balance (available at the end of
`To`); both ends are also summed from the ledger independently and must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased

from hub.clock import day_bounds_utc
from hub.companies.models import Company, StatementKind
from hub.errors import InvalidRequest, LedgerInvariantError
from hub.ids import MalformedId, format_coupon_id, normalize_coupon_id
from hub.ledger.codes import TransferCode
from hub.ledger.models import LedgerAccount, LedgerTransfer
from hub.ledger.service import PENDING, POST, POSTED, VOID

TOPUP, HOLD, CAPTURE, RELEASE, ADJUSTMENT = (
    StatementKind.TOPUP,
    StatementKind.HOLD,
    StatementKind.CAPTURE,
    StatementKind.RELEASE,
    StatementKind.ADJUSTMENT,
)
STATEMENT_DAYS_MAX = 366  # one GetStatement covers at most a year
REFERENCE_CHARS_MAX = 140  # c:Reference

_COUPON_CODES = frozenset(
    {TransferCode.HOLD, TransferCode.CAPTURE, TransferCode.RELEASE, TransferCode.REVERSAL}
)  # ledger codes whose reference is a coupon id


@dataclass(frozen=True)
class StatementEntry:
    booked_at: datetime
    kind: StatementKind
    amount_grosze: int  # signed: + raises the available balance
    coupon_id: str | None  # canonical
    reference: str


@dataclass(frozen=True)
class Statement:
    company_nip: str
    company_name: str
    date_from: date
    date_to: date
    opening_balance_grosze: int  # available at the start of date_from (Warsaw)
    closing_balance_grosze: int  # available at the end of date_to (Warsaw)
    entries: tuple[StatementEntry, ...]


def build_statement(session: Session, company: Company, date_from: date, date_to: date) -> Statement:
    """The statement of `company` for [date_from, date_to], read in `session` (one snapshot)."""
    if date_from > date_to:
        raise InvalidRequest(f"From {date_from} is after To {date_to}")
    if (date_to - date_from) >= timedelta(days=STATEMENT_DAYS_MAX):
        raise InvalidRequest(
            f"a statement covers at most {STATEMENT_DAYS_MAX} days; ask for {date_from} to {date_to} in parts"
        )
    start, end = day_bounds_utc(date_from)[0], day_bounds_utc(date_to)[1]
    account_id = session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == company.ledger_code))
    if account_id is None:
        raise LedgerInvariantError(f"company {company.nip} has no ledger account {company.ledger_code}")
    opening = available_at(session, account_id, start)
    closing = available_at(session, account_id, end)
    entries = tuple(_entries(session, account_id, start, end))
    if opening + sum(e.amount_grosze for e in entries) != closing:
        raise LedgerInvariantError(
            f"statement of company {company.nip} for {date_from}..{date_to}: opening {opening} plus entries "
            f"{sum(e.amount_grosze for e in entries)} is not the closing balance {closing}"
        )
    return Statement(company.nip, company.name, date_from, date_to, opening, closing, entries)


def available_at(session: Session, account_id: int, before: datetime) -> int:
    """The account's available balance counting every transfer created before `before`:
    credits posted - debits posted - debits pending (holds not yet resolved by then)."""
    t = LedgerTransfer
    posted = t.kind.in_((POSTED, POST))
    credits_posted, debits_posted, debits_pending = session.execute(
        select(
            func.coalesce(func.sum(case((posted & (t.credit_account_id == account_id), t.amount_grosze), else_=0)), 0),
            func.coalesce(func.sum(case((posted & (t.debit_account_id == account_id), t.amount_grosze), else_=0)), 0),
            func.coalesce(
                func.sum(case(((t.kind == PENDING) & (t.debit_account_id == account_id), t.amount_grosze), else_=0)), 0
            ),
        ).where(or_(t.debit_account_id == account_id, t.credit_account_id == account_id), t.created_at < before)
    ).one()
    hold = aliased(LedgerTransfer)
    resolved = session.execute(  # holds of this account resolved (posted or voided) before `before`
        select(func.coalesce(func.sum(hold.amount_grosze), 0))
        .select_from(t)
        .join(hold, hold.id == t.pending_id)
        .where(t.kind.in_((POST, VOID)), t.debit_account_id == account_id, t.created_at < before)
    ).scalar_one()
    return int(credits_posted) - int(debits_posted) - (int(debits_pending) - int(resolved))


def _entries(session: Session, account_id: int, start: datetime, end: datetime) -> Iterator[StatementEntry]:
    t, hold = LedgerTransfer, aliased(LedgerTransfer)
    rows = session.execute(
        select(t, hold.amount_grosze)
        .outerjoin(hold, hold.id == t.pending_id)
        .where(
            or_(t.debit_account_id == account_id, t.credit_account_id == account_id),
            t.created_at >= start,
            t.created_at < end,
        )
        .order_by(t.created_at, t.id)
    )
    for transfer, hold_amount in rows:
        yield from _effects(transfer, hold_amount, debited=transfer.debit_account_id == account_id)


def _effects(t: LedgerTransfer, hold_amount: int | None, *, debited: bool) -> Iterator[StatementEntry]:
    coupon = _coupon_id(t)
    reference = (t.id if coupon else t.reference or t.id)[:REFERENCE_CHARS_MAX]

    def entry(kind: StatementKind, amount: int) -> StatementEntry:
        return StatementEntry(t.created_at, kind, amount, coupon, reference)

    if t.kind == PENDING:
        if debited:
            yield entry(HOLD, -t.amount_grosze)
    elif t.kind in (POST, VOID):
        if debited:
            if hold_amount is None:  # the outer join found no pending transfer to resolve
                raise LedgerInvariantError(f"transfer {t.id} resolves no pending transfer")
            yield entry(RELEASE, hold_amount)
            if t.kind == POST:
                yield entry(CAPTURE, -t.amount_grosze)
        elif t.kind == POST:  # a hold that credits the company, posted (none today)
            yield entry(ADJUSTMENT, t.amount_grosze)
    elif t.code == TransferCode.TOPUP:
        yield entry(TOPUP, -t.amount_grosze if debited else t.amount_grosze)
    elif t.code == TransferCode.REVERSAL:
        yield entry(CAPTURE, -t.amount_grosze if debited else t.amount_grosze)
    else:
        yield entry(ADJUSTMENT, -t.amount_grosze if debited else t.amount_grosze)


def _coupon_id(t: LedgerTransfer) -> str | None:
    if t.code not in _COUPON_CODES:
        return None
    try:
        return format_coupon_id(normalize_coupon_id(t.reference))
    except MalformedId:
        return None
