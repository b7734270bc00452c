"""Daily settlement: each office's earnings of a business day paid out through the bank.

    settle(day)  per office, one transaction: the amount owed -> ledger office:CODE
                 -> bank:transit (SETTLEMENT), a Settlement row PENDING, and a
                 SubmitTransfer in the outbox; nothing owed -> a CARRIED row
    send()       delivers the outbox: ACCEPTED -> SENT with the BankReference;
                 REJECTED or a Client fault -> bank:transit -> office:CODE
                 (SETTLE_REJECTED), REJECTED with the reason: the money is owed
                 again and goes out with the next settlement
    reconcile()  a booked debit on the escrow statement with the settlement's
                 EndToEndId and amount -> bank:transit -> bank:escrow
                 (SETTLE_BOOKED), BOOKED, the entry MATCHED; a payout the bank
                 returned later -> bank:escrow -> office:CODE (SETTLE_RETURNED),
                 RETURNED: owed again, paid with the next settlement

What an office is owed for day D: its account's balance counting every earning
and reversal made before the end of D (Europe/Warsaw), less every settlement
ever made for it (and plus every rejected one). So a capture is paid once
whatever the order in which days are settled, and a reversal of money already
settled makes the next amount smaller; a negative result is carried, never sent.

Ledger codes are at most 16 characters (ledger_transfers.code), hence
SETTLE_REJECTED, SETTLE_BOOKED and SETTLE_RETURNED.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import KW_ONLY, dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.access import Actor
from hub.audit.models import record_event
from hub.bank.models import CREDIT, DEBIT, UNMATCHED, BankEntry
from hub.clock import Clock, business_day, day_bounds_utc, utcnow
from hub.config import Office, Offices
from hub.db.database import Database
from hub.errors import InvalidRequest, NotAuthorized
from hub.fk.courier import FkCourier, FkJournals
from hub.fk.service import JournalService
from hub.ledger import Ledger
from hub.ledger.chart import ASSET, CONTROL, ESCROW, OFFICE, TRANSIT, office_account
from hub.ledger.codes import TransferCode, TransferKind
from hub.ledger.models import LedgerAccount, LedgerTransfer
from hub.money import format_pln
from hub.outbox import DeliveryRun, Outbox, enqueue
from hub.settlement.bank import KIND as BANK_TRANSFER
from hub.settlement.bank import BankCourier, BankTransfers
from hub.settlement.models import BOOKED, CARRIED, PENDING, REJECTED, RETURNED, SENT, STATUSES, Settlement

log = logging.getLogger("hub.settlement")

SETTLEMENT, SETTLE_REJECTED, SETTLE_BOOKED, SETTLE_RETURNED = (
    TransferCode.SETTLEMENT,
    TransferCode.SETTLE_REJECTED,
    TransferCode.SETTLE_BOOKED,
    TransferCode.SETTLE_RETURNED,
)
OFFICE_SETTLEMENT_CODES = (SETTLEMENT, SETTLE_REJECTED, SETTLE_RETURNED)  # an office's transfers that are not earnings
MATCHED = "MATCHED"  # a statement entry this module booked
TITLE_CHARS_MAX = 140
NAME_CHARS_MAX = 140


@dataclass(frozen=True)
class SettlementView:
    office_code: str
    business_day: date
    amount_grosze: int
    status: str
    end_to_end_id: str | None
    creditor_account: str
    bank_reference: str | None
    reject_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    booked_at: datetime | None

    @classmethod
    def of(cls, s: Settlement) -> SettlementView:
        return cls(
            s.office_code,
            s.business_day,
            s.amount_grosze,
            s.status,
            s.end_to_end_id,
            s.creditor_account,
            s.bank_reference,
            s.reject_reason,
            s.created_at,
            s.sent_at,
            s.booked_at,
        )


@dataclass
class SettleRun:
    day: date
    settlements: list[SettlementView] = field(default_factory=list)
    created: int = 0  # new rows; the rest were settled before
    journals_queued: int = 0


@dataclass
class ReconcileRun:
    booked: list[str] = field(default_factory=list)  # EndToEndIds
    returned: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # one sentence each


def end_to_end_id(office_code: str, day: date) -> str:
    """HUB-<office>-<yyyymmdd>-1: one settlement per office and day (the unique
    key on both), at most 35 printable characters as the bank requires."""
    return f"HUB-{office_code}-{day:%Y%m%d}-1"


def _require_operator(actor: Actor, what: str) -> None:
    if not actor.is_operator:
        raise NotAuthorized(f"{actor.name} may not {what}: only the hub's operator settles with the bank")


@dataclass(eq=False)
class SettlementService:
    """`escrow_account` ([bank]) pays the offices out; `bank` and `fk` carry transfers
    and journals over the wire (hub.adapters, injected by hub.app)."""

    db: Database
    offices: Offices
    escrow_account: str
    clock: Clock = utcnow
    _: KW_ONLY
    journals: JournalService
    bank: BankCourier
    fk: FkCourier

    # -- settle -----------------------------------------------------------

    def settle(self, day: date, *, actor: Actor) -> SettleRun:
        """Settle every office for `day`, which must have ended in Warsaw.
        Idempotent per office and day: a second run changes nothing."""
        _require_operator(actor, "settle")
        if day_bounds_utc(day)[1] > self.clock():
            raise InvalidRequest(f"{day.isoformat()} has not ended yet in Europe/Warsaw; settle a past business day")
        run = SettleRun(day)
        for office in self.offices:
            view, created, queued = self._settle_office(office, day, actor)
            run.settlements.append(view)
            run.created += created
            run.journals_queued += queued
        return run

    def _settle_office(self, office: Office, day: date, actor: Actor) -> tuple[SettlementView, bool, bool]:
        try:
            with self.db.transaction() as session:
                ledger = Ledger(session, self.clock)
                account = self._lock_office(session, ledger, office.code)
                done = self._find(session, office.code, day)
                if done is not None:
                    return SettlementView.of(done), False, False
                now = self.clock()
                amount = self._owed(session, account, day)
                settlement = Settlement(
                    office_code=office.code,
                    business_day=day,
                    amount_grosze=amount,
                    status=CARRIED,
                    creditor_account=office.account,
                    created_at=now,
                )
                if amount > 0:
                    self._pay_out(session, ledger, settlement, office, now)
                session.add(settlement)
                session.flush()
                queued = self.journals.enqueue_for(session, office.code, day, actor=actor) is not None
                record_event(
                    session,
                    now,
                    actor.name,
                    "settlement.settle",
                    f"office:{office.code}",
                    day=day.isoformat(),
                    amount=format_pln(amount),
                    status=settlement.status,
                )
                return SettlementView.of(settlement), True, queued
        except IntegrityError:
            # A concurrent settle of the same office and day won the unique key: its row stands.
            with self.db.read() as session:
                winner = self._find(session, office.code, day)
                if winner is None:  # the conflict was something else
                    raise
                return SettlementView.of(winner), False, False

    def _pay_out(self, session: Session, ledger: Ledger, settlement: Settlement, office: Office, now: datetime) -> None:
        e2e = end_to_end_id(office.code, settlement.business_day)
        ledger.transfer(
            f"settlement:{e2e}", office_account(office.code), TRANSIT, settlement.amount_grosze, SETTLEMENT, e2e
        )
        title = f"Opłaty za kupony, urząd {office.code}, dzień {settlement.business_day.isoformat()}, {e2e}"
        record = enqueue(
            session,
            BANK_TRANSFER,
            e2e,
            {
                "end_to_end_id": e2e,
                "debtor_account": self.escrow_account,
                "creditor_account": office.account,
                "creditor_name": office.name[:NAME_CHARS_MAX],
                "amount": format_pln(settlement.amount_grosze),
                "title": title[:TITLE_CHARS_MAX],
                "requested_date": business_day(now).isoformat(),
            },
            now,
        )
        settlement.status, settlement.end_to_end_id, settlement.outbox_id = PENDING, e2e, record.id

    @staticmethod
    def _lock_office(session: Session, ledger: Ledger, office_code: str) -> LedgerAccount:
        """The office's account, locked (captures and reversals wait while we compute),
        together with bank:transit and in id order, as the ledger itself locks."""
        ledger.open_account(office_account(office_code), OFFICE)
        ledger.open_account(TRANSIT, CONTROL)
        accounts = session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.code.in_((office_account(office_code), TRANSIT)))
            .order_by(LedgerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        return next(a for a in accounts if a.code == office_account(office_code))

    @staticmethod
    def _owed(session: Session, account: LedgerAccount, day: date) -> int:
        """The account's posted balance now, less its earnings and reversals made
        after `day` ended (settlement transfers count whenever they were made)."""
        t = LedgerTransfer
        end = day_bounds_utc(day)[1]
        later = session.execute(
            select(
                func.coalesce(
                    func.sum(case((t.credit_account_id == account.id, t.amount_grosze), else_=-t.amount_grosze)), 0
                )
            ).where(
                or_(t.credit_account_id == account.id, t.debit_account_id == account.id),
                t.created_at >= end,
                t.kind.in_((TransferKind.POSTED, TransferKind.POST)),
                t.code.not_in(OFFICE_SETTLEMENT_CODES),
            )
        ).scalar_one()
        return account.credits_posted - account.debits_posted - int(later)

    # -- send -------------------------------------------------------------

    def couriers(self, timeout_s: float | None = None) -> dict:
        bank = BankTransfers(self.bank, self._accepted, self._rejected, timeout_s)
        fk = FkJournals(self.fk, self.offices.known)
        return {bank.kind: bank, fk.kind: fk}

    def send(
        self, *, actor: Actor, timeout_s: float | None = None, retry_failed: bool = False, outbox: Outbox | None = None
    ) -> DeliveryRun:
        """Deliver what is due in the outbox: transfers to the bank, journals to FK systems."""
        _require_operator(actor, "send to the bank")
        outbox = outbox or Outbox(self.db, self.clock)
        couriers = self.couriers(timeout_s)
        if retry_failed:
            outbox.requeue_failed(list(couriers))
        return outbox.deliver(couriers)

    def _accepted(self, session: Session, e2e: str, bank_reference: str) -> None:
        settlement = self._lock_by_e2e(session, e2e)
        settlement.bank_reference = bank_reference
        if settlement.status == PENDING:
            settlement.status, settlement.sent_at = SENT, self.clock()
        record_event(
            session,
            self.clock(),
            "hub",
            "settlement.accepted",
            f"office:{settlement.office_code}",
            end_to_end_id=e2e,
            bank_reference=bank_reference,
        )

    def _rejected(self, session: Session, e2e: str, reason: str, bank_reference: str | None) -> None:
        settlement = self._lock_by_e2e(session, e2e)
        if settlement.status != PENDING:
            log.error("settlement %s is %s but the bank refused it: %s", e2e, settlement.status, reason)
            return
        Ledger(session, self.clock).transfer(
            f"settlement-rejected:{e2e}",
            TRANSIT,
            office_account(settlement.office_code),
            settlement.amount_grosze,
            SETTLE_REJECTED,
            e2e,
        )
        settlement.status, settlement.rejected_at = REJECTED, self.clock()
        settlement.reject_reason, settlement.bank_reference = reason[:500], bank_reference
        record_event(
            session,
            self.clock(),
            "hub",
            "settlement.rejected",
            f"office:{settlement.office_code}",
            end_to_end_id=e2e,
            reason=reason,
        )

    # -- reconcile --------------------------------------------------------

    def reconcile(self, *, actor: Actor) -> ReconcileRun:
        """Match every UNMATCHED statement entry that names a settlement: its own transaction."""
        _require_operator(actor, "reconcile")
        with self.db.transaction() as session:
            return self._reconcile(session)

    def reconcile_statement(self, session: Session, statement_id: int) -> None:
        """hub.bank.statements' Reconciler: runs inside the statement import's
        transaction, after its entries are stored. Mismatches go to the audit trail
        and the log; `hub bank reconcile` shows them again."""
        run = self._reconcile(session)
        for problem in run.mismatches:
            log.warning("statement %s: %s", statement_id, problem)
            record_event(
                session, self.clock(), "hub", "settlement.mismatch", f"bank-statement:{statement_id}", problem=problem
            )

    def _reconcile(self, session: Session) -> ReconcileRun:
        """A debit with a settlement's EndToEndId and amount books it (SENT or still
        PENDING: the statement proves the bank took it): bank:transit -> bank:escrow.
        A reversed debit (a credit) of a booked settlement is a payout the bank
        returned: bank:escrow -> office:CODE, owed again. Anything else that names a
        settlement stays UNMATCHED and is reported. Idempotent: a MATCHED entry is
        never looked at again."""
        run = ReconcileRun()
        ledger = Ledger(session, self.clock)
        for code, kind in ((ESCROW, ASSET), (TRANSIT, CONTROL)):
            ledger.open_account(code, kind)
        # The statement import locks the escrow account first; so do we, in the same order.
        session.execute(select(LedgerAccount.id).where(LedgerAccount.code == ESCROW).with_for_update())
        pairs = session.execute(
            select(BankEntry, Settlement)
            .join(Settlement, Settlement.end_to_end_id == BankEntry.end_to_end_id)
            .where(BankEntry.status == UNMATCHED)
            .order_by(BankEntry.id)
            .with_for_update()
        ).all()
        for entry, settlement in pairs:
            e2e = cast(str, settlement.end_to_end_id)  # joined on it, so never NULL here
            if entry.direction == DEBIT and not entry.reversal and self._books(settlement, entry):
                self._book(ledger, settlement, entry, e2e)
                run.booked.append(e2e)
            elif (
                entry.direction == CREDIT
                and entry.reversal
                and settlement.status == BOOKED
                and settlement.amount_grosze == entry.amount_grosze
            ):
                self._return(ledger, settlement, entry, e2e)
                run.returned.append(e2e)
            else:
                what = "returns" if entry.direction == CREDIT else "debits"
                run.mismatches.append(
                    f"statement entry {entry.id} {what} {format_pln(entry.amount_grosze)}"
                    f" for EndToEndId {entry.end_to_end_id}, but that settlement is"
                    f" {settlement.status} for {format_pln(settlement.amount_grosze)}"
                )
        return run

    @staticmethod
    def _books(settlement: Settlement, entry: BankEntry) -> bool:
        return settlement.status in (PENDING, SENT) and settlement.amount_grosze == entry.amount_grosze

    def _book(self, ledger: Ledger, settlement: Settlement, entry: BankEntry, e2e: str) -> None:
        ledger.transfer(f"settlement-booked:{e2e}", TRANSIT, ESCROW, settlement.amount_grosze, SETTLE_BOOKED, e2e)
        now = self.clock()
        settlement.status, settlement.booked_at, settlement.bank_entry_id = BOOKED, now, entry.id
        settlement.sent_at = settlement.sent_at or now
        entry.status = MATCHED

    def _return(self, ledger: Ledger, settlement: Settlement, entry: BankEntry, e2e: str) -> None:
        ledger.transfer(
            f"settlement-returned:{e2e}",
            ESCROW,
            office_account(settlement.office_code),
            settlement.amount_grosze,
            SETTLE_RETURNED,
            e2e,
        )
        settlement.status, settlement.rejected_at = RETURNED, self.clock()
        settlement.reject_reason = (entry.remittance or "returned by the bank")[:500]
        entry.status = MATCHED

    # -- reports ----------------------------------------------------------

    def list(
        self, *, actor: Actor, status: str | None = None, day: date | None = None, office_code: str | None = None
    ) -> list[SettlementView]:
        _require_operator(actor, "list the settlements")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"unknown settlement status {status!r}: one of {', '.join(STATUSES)}")
        with self.db.read() as session:
            query = select(Settlement).order_by(Settlement.business_day, Settlement.office_code)
            if status:
                query = query.where(Settlement.status == status)
            if day:
                query = query.where(Settlement.business_day == day)
            if office_code:
                query = query.where(Settlement.office_code == office_code)
            return [SettlementView.of(s) for s in session.scalars(query)]

    def unreconciled(self, days: int, *, actor: Actor) -> builtins.list[SettlementView]:  # `list` is a method here
        """Settlements the bank took (or that still wait for its answer) at least
        `days` days ago and that no statement has booked yet."""
        _require_operator(actor, "list the settlements")
        if days < 0:
            raise InvalidRequest("--days must be 0 or more")
        cutoff = self.clock() - timedelta(days=days)
        with self.db.read() as session:
            query = (
                select(Settlement)
                .where(
                    or_(
                        (Settlement.status == SENT) & (Settlement.sent_at <= cutoff),
                        (Settlement.status == PENDING) & (Settlement.created_at <= cutoff),
                    )
                )
                .order_by(Settlement.business_day, Settlement.office_code)
            )
            return [SettlementView.of(s) for s in session.scalars(query)]

    @staticmethod
    def _find(session: Session, office_code: str, day: date) -> Settlement | None:
        return session.scalars(
            select(Settlement).where(Settlement.office_code == office_code, Settlement.business_day == day)
        ).one_or_none()

    @staticmethod
    def _lock_by_e2e(session: Session, e2e: str) -> Settlement:
        return session.scalars(
            select(Settlement)
            .where(Settlement.end_to_end_id == e2e)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
