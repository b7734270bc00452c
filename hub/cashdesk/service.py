"""The cash desk (Kasa): each step one atomic transaction with its ledger transfer.

    register -> a payment for a case, receipt KP/<office>/<desk>/<year>/<number>,
                one transfer desk:<office>:<desk>:<method> -> office:<office>:takings
    void     -> the reverse transfer; a supervisor's login, the same business day
    close    -> the desk's day is frozen and its daily cash report (raport kasowy) kept,
                with the cashier's cash count: counted against the day's cash payments,
                a difference confirmed by a supervisor and booked
                desk:<office>:<desk>:CASH <-> office:<office>:cash_differences.
                A day more than one day back takes `force` and a supervisor (audited).

Locks, always in this order so two writers cannot deadlock: the desk day row
(office, desk, business day), then the receipt counter row (office, desk,
year), then the ledger's accounts. Every payment, void and close of a desk and
day takes the desk day row FOR UPDATE, so CloseDay and a payment racing it are
serialized: the payment either commits first and is counted, or sees the day
closed. On SQLite the whole write transaction already holds the database lock.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from hub.access import DESK_CLOSE, PAYMENTS_READ, PAYMENTS_REGISTER, PAYMENTS_VOID, REPORTS_READ, Actor
from hub.audit.models import record_event
from hub.cashdesk.documents import CashDeskDocuments
from hub.cashdesk.models import CARD, CASH, METHODS, DeskDay, Payment, PaymentItem, ReceiptCounter
from hub.cashdesk.receipt_qr import receipt_payload
from hub.clock import Clock, business_day, utcnow
from hub.config import SYSTEMS, Fee, Office, Offices, Tariff
from hub.db.database import Database, DriverStatement, insert_if_absent
from hub.db.idempotency import Record, once
from hub.errors import DayClosed, HubError, InvalidRequest, NotAuthorized, NotFound, ReceiptSequenceError
from hub.ids import new_uuid
from hub.ledger import Ledger
from hub.ledger.chart import ASSET, OFFICE, desk_account, office_cash_differences_account, office_takings_account
from hub.ledger.codes import TransferCode
from hub.money import format_pln
from hub.signing.keys import SigningIdentity

ITEMS_COUNT_MAX = 50  # fees on one receipt
PERSON_CHARS_MAX = 64  # Cashier, Supervisor (contract PersonRef)
CASE_NUMBER_CHARS_MAX = 64
REASON_CHARS_MAX = 500
PAYER_NAME_CHARS_MAX = 200
PAYER_ADDRESS_CHARS_MAX = 300
LATE_CLOSE_DAYS_MAX = 1  # a day further back than this takes force and a supervisor (issue 16)
_CARD_AUTH_CODE = re.compile(r"^[A-Za-z0-9-]{1,32}$")

# Ledger transfer codes
PAYMENT_CODE, VOID_CODE, DIFFERENCE_CODE = (
    TransferCode.DESK_PAYMENT,
    TransferCode.DESK_VOID,
    TransferCode.DESK_DIFFERENCE,
)  # codes are at most 16 characters

SupervisorLookup = Callable[[str], Actor]

# The write path's statements, built once: Core rows, no ORM objects, on every payment and void.
_PAYMENTS, _ITEMS = cast(Table, Payment.__table__), cast(Table, PaymentItem.__table__)
_DAYS, _COUNTERS = cast(Table, DeskDay.__table__), cast(Table, ReceiptCounter.__table__)
_ADD_PAYMENT, _ADD_ITEMS = insert(_PAYMENTS), insert(_ITEMS)
_LOCK_PAYMENT = select(_PAYMENTS).where(_PAYMENTS.c.id == bindparam("payment_id")).with_for_update()
_SET_PAYMENT = update(_PAYMENTS).where(_PAYMENTS.c.id == bindparam("payment_id"))
_SET_DAY = update(_DAYS).where(_DAYS.c.id == bindparam("day_id"))
_SET_COUNTER = update(_COUNTERS).where(
    _COUNTERS.c.office_code == bindparam("office"),
    _COUNTERS.c.desk_id == bindparam("desk"),
    _COUNTERS.c.year == bindparam("in_year"),
)
_HIGHEST_NUMBER = select(func.coalesce(func.max(_PAYMENTS.c.number), 0)).where(
    _PAYMENTS.c.office_code == bindparam("office"),
    _PAYMENTS.c.desk_id == bindparam("desk"),
    _PAYMENTS.c.year == bindparam("in_year"),
)
# VerifyPayment's read, on the driver (DriverStatement) as VerifyCoupon's is: a case's payments
# that count, each row one of its items, in one statement, which on PostgreSQL joins the
# request's record sent ahead (one round trip for both; the ORM's two queries took three).
_CASE_PAYMENTS = DriverStatement(
    select(
        *_PAYMENTS.c,
        _ITEMS.c.fee_code.label("item_fee_code"),
        _ITEMS.c.fee_name.label("item_fee_name"),
        _ITEMS.c.amount_grosze.label("item_amount_grosze"),
    )
    .select_from(_PAYMENTS.outerjoin(_ITEMS, _ITEMS.c.payment_id == _PAYMENTS.c.id))
    .where(
        _PAYMENTS.c.office_code == bindparam("office"),
        _PAYMENTS.c.system == bindparam("system"),
        _PAYMENTS.c.case_number == bindparam("case_number"),
        _PAYMENTS.c.voided_at.is_(None),
    )
    .order_by(_PAYMENTS.c.paid_at, _PAYMENTS.c.receipt_number, _ITEMS.c.position)
)


@dataclass(frozen=True)
class ItemRequest:
    """One fee to take: its code from fees.toml; no amount means the day's fee schedule."""

    fee_code: str
    amount_grosze: int | None = None


@dataclass(frozen=True)
class RegisteredPayment:
    payment_id: str
    receipt_number: str
    items_total_grosze: int
    handling_fee_grosze: int
    total_grosze: int
    paid_at: datetime


@dataclass(frozen=True)
class PaidItem:
    fee_code: str
    fee_name: str
    amount_grosze: int


@dataclass(frozen=True)
class PaymentRecord:
    """A payment as stored, with its items, for receipts, reports and VerifyPayment."""

    payment_id: str
    receipt_number: str
    office_code: str
    desk_id: str
    business_day: date
    cashier: str
    system: str
    case_number: str
    method: str
    card_auth_code: str | None
    items: tuple[PaidItem, ...]
    items_total_grosze: int
    handling_fee_grosze: int
    total_grosze: int
    paid_at: datetime
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None
    payer_name: str | None = None
    payer_address: str | None = None

    @property
    def voided(self) -> bool:
        return self.voided_at is not None


@dataclass(frozen=True)
class CaseCheck:
    """VerifyPayment's answer: the case's payments that count (voided ones do not).
    `total_paid_grosze` is the fees paid (items), without the handling fees."""

    paid: bool
    total_paid_grosze: int
    payments: tuple[PaymentRecord, ...]


@dataclass(frozen=True)
class DeskTotals:
    """A desk day's figures. Counts and totals are of payments that count; voided
    payments are counted apart and add to no total."""

    payment_count: int
    voided_count: int
    cash_total_grosze: int  # items and handling fees of CASH payments
    card_total_grosze: int
    handling_fee_total_grosze: int

    @classmethod
    def of(cls, payments: Iterable[PaymentRecord]) -> DeskTotals:
        payments = list(payments)
        counted = [p for p in payments if not p.voided]
        return cls(
            payment_count=len(counted),
            voided_count=len(payments) - len(counted),
            cash_total_grosze=sum(p.total_grosze for p in counted if p.method == CASH),
            card_total_grosze=sum(p.total_grosze for p in counted if p.method == CARD),
            handling_fee_total_grosze=sum(p.handling_fee_grosze for p in counted),
        )

    @property
    def total_grosze(self) -> int:
        return self.cash_total_grosze + self.card_total_grosze


@dataclass(frozen=True)
class CashCount:
    """The cashier's count against the cash the day's payments put in the drawer.
    `difference_grosze` = counted - expected: below zero a shortage, above a surplus."""

    expected_grosze: int
    counted_grosze: int
    confirmed_by: str | None = None  # the supervisor's login, when there is a difference

    @property
    def difference_grosze(self) -> int:
        return self.counted_grosze - self.expected_grosze


@dataclass(frozen=True)
class ClosedDay:
    """CloseDay's answer: the daily cash report's id and figures, frozen at closing.
    `count` is None for a day closed without a cash count."""

    report_id: str
    office_code: str
    desk_id: str
    day: date
    closed_at: datetime
    closed_by: str
    totals: DeskTotals
    count: CashCount | None = None
    late_close_supervisor: str | None = None


@dataclass(frozen=True)
class CashReport:
    """The daily cash report (raport kasowy) of one desk: every payment, voids
    marked, and the totals by method less voids. `closed` is None while the day is open."""

    office: Office
    desk_id: str
    day: date
    payments: tuple[PaymentRecord, ...]
    closed: ClosedDay | None

    @property
    def totals(self) -> DeskTotals:
        return DeskTotals.of(self.payments)


@dataclass(frozen=True)
class DayTakings:
    """What an office took at all its desks on a business day, voids excluded, in
    grosze: fees by fee code, handling fees and totals (fees + handling) by method.
    `handling_fees` and `by_method` always have both keys "CASH" and "CARD"."""

    office_code: str
    day: date
    by_fee_code: dict[str, int] = field(default_factory=dict)
    handling_fees: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METHODS, 0))
    by_method: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METHODS, 0))


@dataclass(frozen=True)
class RegisteredRecord:
    """RegisterPayment's answer as its idempotency key keeps it (hub.db.idempotency)."""

    id: str  # the payment
    receipt: str
    items: int  # grosze
    fee: int  # the handling fee, grosze
    at: datetime


@dataclass(frozen=True)
class VoidedRecord:
    """VoidPayment's answer as its idempotency key keeps it."""

    at: datetime


@dataclass(frozen=True)
class ClosedRecord:
    """CloseDay's answer as its idempotency key keeps it: the desk day's row."""

    id: int


def receipt_number(office_code: str, desk_id: str, year: int, number: int) -> str:
    """`KP/1465/01/2026/000123`: KP (kasa przyjmie), office, desk, year, number in that year."""
    return f"KP/{office_code}/{desk_id}/{year}/{number:06d}"


def report_id(office_code: str, desk_id: str, day: date) -> str:
    """`RK/1465/01/2026-03-10`: one daily cash report (raport kasowy) per desk and day."""
    return f"RK/{office_code}/{desk_id}/{day.isoformat()}"


def _text(name: str, value: str | None, chars_max: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidRequest(f"{name} is empty")
    if len(text) > chars_max:
        raise InvalidRequest(f"{name} is {len(text)} characters long; at most {chars_max} are allowed")
    return text


def _optional_text(name: str, value: str | None, chars_max: int) -> str | None:
    text = " ".join((value or "").split())  # one line on the receipt: newlines and runs of spaces become one space
    if len(text) > chars_max:
        raise InvalidRequest(f"{name} is {len(text)} characters long; at most {chars_max} are allowed")
    return text or None


@dataclass(frozen=True)
class PaymentQuote:
    """What a payment comes to before it is taken: shown to the payer, charged by register()."""

    items_grosze: int
    handling_fee_grosze: int

    @property
    def total_grosze(self) -> int:
        return self.items_grosze + self.handling_fee_grosze


def handling_fee_grosze(office: Office, method: str) -> int:
    """The office's fixed handling fee for the payment method (offices.toml)."""
    return office.card_fee_grosze if method == CARD else office.cash_fee_grosze


def valid_card_auth_code(method: str, code: str | None) -> str | None:
    """The card terminal's authorization code as kept: required for CARD, refused for
    CASH, 1 to 32 letters, digits or dashes. Raises InvalidRequest otherwise."""
    if method not in METHODS:
        raise InvalidRequest(f"Method must be CASH or CARD, got {method!r}")
    code = (code or "").strip() or None
    if method == CASH:
        if code is not None:
            raise InvalidRequest("CardAuthCode is given for a CASH payment; it belongs to CARD payments only")
        return None
    if code is None:
        raise InvalidRequest("CardAuthCode is required for a CARD payment: the card terminal's authorization code")
    if not _CARD_AUTH_CODE.match(code):
        raise InvalidRequest(f"CardAuthCode {code!r} is not 1 to 32 letters, digits or dashes")
    return code


def _acts_for(actor: Actor, office_code: str) -> bool:
    return actor.is_operator or (actor.offices is not None and office_code in actor.offices)


@dataclass(eq=False)
class CashDeskService:
    """`supervisor(login)` returns the Actor of an active hub user (hub.users), or raises a HubError.
    `documents` draws the PDFs; `signing_identity` (the hub's own key, loaded once by hub.app)
    signs the receipts' QR codes."""

    db: Database
    tariff: Tariff
    offices: Offices
    clock: Clock = utcnow
    supervisor: SupervisorLookup | None = None
    _: KW_ONLY
    documents: CashDeskDocuments
    signing_identity: SigningIdentity

    # -- register ---------------------------------------------------------

    def register(
        self,
        *,
        request_id: str,
        office_code: str,
        desk_id: str,
        cashier: str,
        system: str,
        case_number: str,
        method: str,
        items: Sequence[ItemRequest],
        card_auth_code: str | None = None,
        payer_name: str | None = None,
        payer_address: str | None = None,
        actor: Actor,
    ) -> RegisteredPayment:
        """Take a payment for a case. The handling fee is the office's fixed fee for the method.
        The payer (name, address) is optional and printed on the receipt."""
        office = self._desk(office_code, desk_id)
        actor.require(PAYMENTS_REGISTER, office_code=office.code)
        cashier = _text("Cashier", cashier, PERSON_CHARS_MAX)
        case_number = _text("CaseNumber", case_number, CASE_NUMBER_CHARS_MAX)
        if system not in SYSTEMS:
            raise InvalidRequest(f"System must be one of {', '.join(SYSTEMS)}, got {system!r}")
        card_auth_code = valid_card_auth_code(method, card_auth_code)
        self._check_items(items)
        handling_fee = handling_fee_grosze(office, method)
        payer_name = _optional_text("PayerName", payer_name, PAYER_NAME_CHARS_MAX)
        payer_address = _optional_text("PayerAddress", payer_address, PAYER_ADDRESS_CHARS_MAX)
        content: Record = {
            "office": office.code,
            "desk": desk_id,
            "cashier": cashier,
            "system": system,
            "case": case_number,
            "method": method,
            "auth": card_auth_code,
            "items": [[i.fee_code, i.amount_grosze] for i in items],
        }
        if payer_name or payer_address:  # only then: a retry of a request stored before payers keeps its fingerprint
            content["payer"] = [payer_name, payer_address]

        def work(session: Session) -> RegisteredRecord:
            now = self.clock()
            day = business_day(now)
            self._open_day(session, office.code, desk_id, day)
            lines = [self._priced(item, day) for item in items]
            items_total = sum(line.amount_grosze for line in lines)
            number = self._next_number(session, office.code, desk_id, day.year)
            payment_id = new_uuid()
            receipt = receipt_number(office.code, desk_id, day.year, number)
            connection = session.connection()
            connection.execute(
                _ADD_PAYMENT,
                dict(
                    id=payment_id,
                    receipt_number=receipt,
                    office_code=office.code,
                    desk_id=desk_id,
                    year=day.year,
                    number=number,
                    business_day=day,
                    cashier=cashier,
                    system=system,
                    case_number=case_number,
                    method=method,
                    card_auth_code=card_auth_code,
                    items_total_grosze=items_total,
                    handling_fee_grosze=handling_fee,
                    total_grosze=items_total + handling_fee,
                    paid_at=now,
                    registered_by=actor.name[:120],
                    voided_at=None,
                    voided_by=None,
                    void_reason=None,
                    payer_name=payer_name,
                    payer_address=payer_address,
                ),
            )
            connection.execute(
                _ADD_ITEMS,
                [
                    dict(
                        payment_id=payment_id,
                        position=i,
                        fee_code=line.fee_code,
                        fee_name=line.fee_name[:200],
                        amount_grosze=line.amount_grosze,
                    )
                    for i, line in enumerate(lines)
                ],
            )
            ledger = Ledger(session, self.clock)
            drawer, takings = (desk_account(office.code, desk_id, method), office_takings_account(office.code))
            ledger.expect(takings)  # read with the drawer's account
            ledger.open_account(drawer, ASSET)
            ledger.open_account(takings, OFFICE)
            ledger.transfer(
                f"desk-payment:{payment_id}", drawer, takings, items_total + handling_fee, PAYMENT_CODE, receipt
            )
            record_event(
                session,
                now,
                actor.name,
                "cashdesk.pay",
                f"desk:{office.code}:{desk_id}",
                payment=payment_id,
                receipt=receipt,
                case=f"{system}:{case_number}",
                cashier=cashier,
                method=method,
                total=format_pln(items_total + handling_fee),
            )
            return RegisteredRecord(payment_id, receipt, items_total, handling_fee, now)

        r = once(self.db, request_id, "RegisterPayment", content, work, self.clock(), RegisteredRecord)
        return RegisteredPayment(r.id, r.receipt, r.items, r.fee, r.items + r.fee, r.at)

    def _desk(self, office_code: str, desk_id: str) -> Office:
        office = self.offices.known(office_code)
        if desk_id not in office.desks:
            known = ", ".join(office.desks) or "none"
            raise InvalidRequest(f"Office {office.code} has no desk {desk_id!r}; offices.toml lists: {known}")
        return office

    def _check_items(self, items: Sequence[ItemRequest]) -> None:
        if not 1 <= len(items) <= ITEMS_COUNT_MAX:
            raise InvalidRequest(f"a payment has 1 to {ITEMS_COUNT_MAX} items, this one has {len(items)}")
        today = business_day(self.clock())
        for item in items:
            self.tariff.fee(item.fee_code, today)  # unknown: InvalidRequest
            if item.amount_grosze is not None and item.amount_grosze <= 0:
                raise InvalidRequest(f"Item {item.fee_code}: Amount must be at least 0.01")

    def _priced(self, item: ItemRequest, day: date) -> PaidItem:
        fee = self.tariff.fee(item.fee_code, day)
        amount = fee.amount_grosze if item.amount_grosze is None else item.amount_grosze
        if amount <= 0:
            raise InvalidRequest(f"Item {item.fee_code}: the fee schedule has no amount for it on {day}; give Amount")
        return PaidItem(fee.code, fee.name, amount)

    def _next_number(self, session: Session, office_code: str, desk_id: str, year: int) -> int:
        """The next receipt number of the desk and year, taken under the counter row's
        lock in the caller's transaction: a rollback gives the number back."""
        counter = _locked(
            session, ReceiptCounter, {"office_code": office_code, "desk_id": desk_id, "year": year}, {"last_number": 0}
        )
        desk = {"office": office_code, "desk": desk_id, "in_year": year}
        connection = session.connection()
        highest = connection.execute(_HIGHEST_NUMBER, desk).scalar()
        if highest != counter.last_number:
            raise ReceiptSequenceError(
                f"receipt counter of desk {office_code}/{desk_id} for {year} is at "
                f"{counter.last_number} but the last receipt is {highest}"
            )
        connection.execute(_SET_COUNTER, {**desk, "last_number": counter.last_number + 1})
        return int(counter.last_number) + 1

    # -- void -------------------------------------------------------------

    def void(self, *, request_id: str, payment_id: str, reason: str, supervisor: str, actor: Actor) -> datetime:
        """Void a payment the same business day, before its desk's day is closed.
        `supervisor` is the login of an active user of the payment's office who may
        void payments. Returns when it was voided."""
        reason = _text("Reason", reason, REASON_CHARS_MAX)
        supervisor = _text("Supervisor", supervisor, PERSON_CHARS_MAX)
        with self.db.read() as session:
            payment = session.get(Payment, payment_id)
        if payment is None or not _acts_for(actor, payment.office_code):
            raise NotFound(f"no payment {payment_id}")
        office_code, desk_id, day = payment.office_code, payment.desk_id, payment.business_day
        actor.require(PAYMENTS_VOID, office_code=office_code)
        self._check_supervisor(supervisor, office_code)
        content = {"payment": payment_id, "reason": reason, "supervisor": supervisor}

        def work(session: Session) -> VoidedRecord:
            self._open_day(session, office_code, desk_id, day)
            now = self.clock()
            if business_day(now) != day:
                raise DayClosed(
                    f"payment {payment_id} was taken on {day}; a payment can be voided only on the day it was taken"
                )
            connection = session.connection()
            payment = connection.execute(_LOCK_PAYMENT, {"payment_id": payment_id}).one()
            if payment.voided_at is not None:
                raise InvalidRequest(f"payment {payment_id} ({payment.receipt_number}) is already voided")
            ledger = Ledger(session, self.clock)
            drawer, takings = (desk_account(office_code, desk_id, payment.method), office_takings_account(office_code))
            ledger.transfer(
                f"desk-void:{payment_id}", takings, drawer, payment.total_grosze, VOID_CODE, payment.receipt_number
            )
            connection.execute(
                _SET_PAYMENT,
                {"payment_id": payment_id, "voided_at": now, "voided_by": supervisor, "void_reason": reason},
            )
            record_event(
                session,
                now,
                actor.name,
                "cashdesk.void",
                f"desk:{office_code}:{desk_id}",
                payment=payment_id,
                receipt=payment.receipt_number,
                supervisor=supervisor,
                reason=reason,
                total=format_pln(payment.total_grosze),
            )
            return VoidedRecord(now)

        return once(self.db, request_id, "VoidPayment", content, work, self.clock(), VoidedRecord).at

    def _check_supervisor(self, login: str, office_code: str, act: str = "void payments") -> None:
        if self.supervisor is None:
            raise NotAuthorized("this hub has no users to act as supervisors")
        try:
            who = self.supervisor(login)
        except HubError:
            raise NotAuthorized(f"Supervisor {login!r} is not an active hub user") from None
        if who.offices is None or office_code not in who.offices or not who.may(PAYMENTS_VOID):
            raise NotAuthorized(
                f"Supervisor {login!r} may not {act} of office {office_code}: "
                f"that takes a user of the office with the permission {PAYMENTS_VOID} (role supervisor)"
            )

    # -- close the day ----------------------------------------------------

    def expected_cash(self, *, office_code: str, desk_id: str, day: date, actor: Actor) -> int:
        """The cash the desk's payments of `day` put in the drawer (voids left out): what
        a cash count is compared with. The first step of closing; changes nothing."""
        office = self._desk(office_code, desk_id)
        actor.require(DESK_CLOSE, office_code=office.code)
        with self.db.read() as session:
            return DeskTotals.of(
                self._records(session, _desk_day_payments(office.code, desk_id, day))
            ).cash_total_grosze

    def close_day(
        self,
        *,
        request_id: str,
        office_code: str,
        desk_id: str,
        day: date,
        actor: Actor,
        counted_cash_grosze: int | None = None,
        supervisor: str | None = None,
        force: bool = False,
    ) -> ClosedDay:
        """Freeze the desk's business day and keep its daily cash report. Afterwards a
        payment or void for that desk and day is DayClosed.

        `counted_cash_grosze`: the cash the cashier counted in the drawer. It is compared
        under the day's lock with the cash the payments say is there; a difference is
        kept on the report, booked to the office's cash differences and needs
        `supervisor` (the login of a supervisor of the office) to confirm it.
        A day more than LATE_CLOSE_DAYS_MAX days back needs `force` and `supervisor`."""
        office = self._desk(office_code, desk_id)
        actor.require(DESK_CLOSE, office_code=office.code)
        today = business_day(self.clock())
        if day > today:
            raise InvalidRequest(f"{day} has not begun yet; only today or an earlier day can be closed")
        if counted_cash_grosze is not None and counted_cash_grosze < 0:
            raise InvalidRequest("CountedCash cannot be below zero")
        supervisor = (supervisor or "").strip() or None
        late = today - day > timedelta(days=LATE_CLOSE_DAYS_MAX)
        if late:
            if not force or supervisor is None:
                raise InvalidRequest(
                    f"{day} is more than {LATE_CLOSE_DAYS_MAX} day back; "
                    f"closing it needs a supervisor's approval and force "
                    f"(hub cashdesk close --force --supervisor LOGIN, or the portal's confirmation)"
                )
            self._check_supervisor(supervisor, office.code, "close a past day of the desks")
        content: Record = {"office": office.code, "desk": desk_id, "day": day.isoformat()}
        if (
            counted_cash_grosze is not None or late
        ):  # only then: retries of requests stored before counts keep their fingerprint
            content.update(counted=counted_cash_grosze, supervisor=supervisor, force=force)

        def work(session: Session) -> ClosedRecord:
            desk_day = self._open_day(session, office.code, desk_id, day)
            # Read under the lock: every payment committed before it is counted, none can follow.
            totals = DeskTotals.of(self._records(session, _desk_day_payments(office.code, desk_id, day)))
            now = self.clock()
            count = None
            closing: dict[str, Any] = {"difference_confirmed_by": desk_day.difference_confirmed_by}
            if counted_cash_grosze is not None:
                count = CashCount(totals.cash_total_grosze, counted_cash_grosze)
                if count.difference_grosze:
                    self._confirm_difference(session, office.code, desk_id, day, count, supervisor)
                    closing["difference_confirmed_by"] = supervisor
                closing["counted_cash_grosze"] = count.counted_grosze
                closing["cash_difference_grosze"] = count.difference_grosze
            closing.update(
                closed_at=now,
                closed_by=actor.name[:120],
                report_id=report_id(office.code, desk_id, day),
                payment_count=totals.payment_count,
                voided_count=totals.voided_count,
                cash_total_grosze=totals.cash_total_grosze,
                card_total_grosze=totals.card_total_grosze,
                handling_fee_total_grosze=totals.handling_fee_total_grosze,
                late_close_supervisor=supervisor if late else None,
            )
            session.connection().execute(_SET_DAY, {"day_id": desk_day.id, **closing})
            counted = (
                {}
                if count is None
                else {
                    "counted": format_pln(count.counted_grosze),
                    "difference": format_pln(count.difference_grosze),
                    "confirmed_by": closing["difference_confirmed_by"],
                }
            )
            late_fields = {"late_by_days": (today - day).days, "supervisor": supervisor, "forced": True} if late else {}
            record_event(
                session,
                now,
                actor.name,
                "cashdesk.close",
                f"desk:{office.code}:{desk_id}",
                day=day.isoformat(),
                report=closing["report_id"],
                payments=totals.payment_count,
                voided=totals.voided_count,
                cash=format_pln(totals.cash_total_grosze),
                card=format_pln(totals.card_total_grosze),
                **counted,
                **late_fields,
            )
            return ClosedRecord(desk_day.id)

        once(self.db, request_id, "CloseDay", content, work, self.clock(), ClosedRecord)
        with self.db.read() as session:
            desk_day = _find_day(session, office.code, desk_id, day)
            assert desk_day is not None  # once() closed it, now or for an earlier try of this RequestId
            return _closed_day(desk_day)

    def _confirm_difference(
        self, session: Session, office_code: str, desk_id: str, day: date, count: CashCount, supervisor: str | None
    ) -> None:
        """A counted cash difference: a supervisor confirms it, and it is booked between
        the drawer and the office's cash differences, so the drawer's account holds what was counted."""
        if supervisor is None:
            raise NotAuthorized(
                f"the counted cash {format_pln(count.counted_grosze)} "
                f"differs from the expected {format_pln(count.expected_grosze)} "
                f"by {format_pln(count.difference_grosze)} PLN; a supervisor must confirm the difference (Supervisor)"
            )
        self._check_supervisor(supervisor, office_code, "confirm cash differences")
        ledger = Ledger(session, self.clock)
        drawer, differences = (desk_account(office_code, desk_id, CASH), office_cash_differences_account(office_code))
        ledger.open_account(drawer, ASSET)
        ledger.open_account(differences, OFFICE)
        debit, credit = (differences, drawer) if count.difference_grosze < 0 else (drawer, differences)
        ledger.transfer(
            f"desk-difference:{office_code}:{desk_id}:{day.isoformat()}",
            debit,
            credit,
            abs(count.difference_grosze),
            DIFFERENCE_CODE,
            report_id(office_code, desk_id, day),
        )

    def _open_day(self, session: Session, office_code: str, desk_id: str, day: date) -> Row[Any]:
        """The desk day's row, locked; DayClosed if the day is closed."""
        desk_day = _locked(session, DeskDay, {"office_code": office_code, "desk_id": desk_id, "day": day}, {})
        if desk_day.closed_at is not None:
            raise DayClosed(
                f"desk {desk_id} of office {office_code} is closed for {day} (report {desk_day.report_id}); "
                f"it takes no more payments or voids for that day"
            )
        return desk_day

    def fees_in_force(self, day: date) -> list[Fee]:
        """Every fee of the schedule that has an amount on `day`, in fees.toml's order:
        what a desk offers to take."""
        return self.tariff.fee_schedule.payable(day)

    def quote(self, office_code: str, method: str, counts: Mapping[str, int]) -> PaymentQuote:
        """What register() would take today for `counts` (fee code -> how many) at
        today's schedule, with the office's handling fee. Changes no state."""
        office = self.offices.known(office_code)
        day = business_day(self.clock())
        items_total = sum(self._priced(ItemRequest(code), day).amount_grosze * count for code, count in counts.items())
        return PaymentQuote(items_total, handling_fee_grosze(office, method))

    # -- reading ----------------------------------------------------------

    def verify_payment(self, *, system: str, office_code: str, case_number: str, actor: Actor) -> CaseCheck:
        """Was this case paid at the office's cash desks? Voided payments do not count. Changes no state."""
        self.offices.known(office_code)
        actor.require(PAYMENTS_READ, office_code=office_code)
        if system not in SYSTEMS:
            raise InvalidRequest(f"System must be one of {', '.join(SYSTEMS)}, got {system!r}")
        values = {"office": office_code, "system": system, "case_number": case_number.strip()}
        with self.db.reading() as connection:
            rows = _CASE_PAYMENTS.rows(connection, values)
        found: dict[str, Any] = {}  # each payment's first row, in the statement's order
        items: dict[str, list[PaidItem]] = defaultdict(list)
        for row in rows:
            found.setdefault(row.id, row)
            if row.item_fee_code is not None:  # the outer join: a payment with no item would have NULLs here
                items[row.id].append(PaidItem(row.item_fee_code, row.item_fee_name, row.item_amount_grosze))
        payments = tuple(_payment_record(p, items[payment_id]) for payment_id, p in found.items())
        return CaseCheck(bool(payments), sum(p.items_total_grosze for p in payments), payments)

    def payment(self, payment_id: str, actor: Actor) -> PaymentRecord:
        """One payment; a payment of an office the actor does not act for is NotFound."""
        with self.db.read() as session:
            found = self._records(session, select(Payment).where(Payment.id == payment_id))
        if not found or not _acts_for(actor, found[0].office_code):
            raise NotFound(f"no payment {payment_id}")
        actor.require(PAYMENTS_READ, office_code=found[0].office_code)
        return found[0]

    def receipt_pdf(self, payment_id: str, actor: Actor) -> bytes:
        """The receipt (KP) of a payment as PDF; a voided payment's receipt says so."""
        payment = self.payment(payment_id, actor)
        qr = receipt_payload(self.signing_identity, payment.receipt_number, payment.total_grosze, payment.business_day)
        return self.documents.receipt_pdf(payment, self.offices.known(payment.office_code), qr)

    def cash_report_pdf(self, report: CashReport) -> bytes:
        """A cash report (from `cash_report`, which checked who may read it) as PDF."""
        return self.documents.cash_report_pdf(report)

    def cash_report(self, *, office_code: str, desk_id: str, day: date, actor: Actor) -> CashReport:
        """The daily cash report of a desk, closed or (provisionally) still open."""
        office = self._desk(office_code, desk_id)
        actor.require(REPORTS_READ, office_code=office.code)
        with self.db.read() as session:
            desk_day = _find_day(session, office.code, desk_id, day)
            payments = self._records(session, _desk_day_payments(office.code, desk_id, day))
        closed = _closed_day(desk_day) if desk_day is not None and desk_day.closed_at is not None else None
        return CashReport(office, desk_id, day, payments, closed)

    def closed_day(self, *, office_code: str, desk_id: str, day: date, actor: Actor) -> ClosedDay | None:
        """The desk's day as closed, or None while it is open: a cashier sees a closed day
        before starting a payment instead of at the confirm step."""
        office = self._desk(office_code, desk_id)
        if not (actor.may(PAYMENTS_REGISTER) or actor.may(PAYMENTS_READ)) or not _acts_for(actor, office.code):
            raise NotAuthorized(f"{actor.name} may not see the desks of office {office.code}")
        with self.db.read() as session:
            desk_day = _find_day(session, office.code, desk_id, day)
        return _closed_day(desk_day) if desk_day is not None and desk_day.closed_at is not None else None

    def day_takings(self, office_code: str, day: date, *, actor: Actor) -> DayTakings:
        """What the office took at all its desks on `day`, voids excluded (for FK journals)."""
        self.offices.known(office_code)
        actor.require(REPORTS_READ, office_code=office_code)
        counted = (Payment.office_code == office_code, Payment.business_day == day, Payment.voided_at.is_(None))
        takings = DayTakings(office_code, day)
        with self.db.read() as session:
            fees = session.execute(
                select(PaymentItem.fee_code, func.sum(PaymentItem.amount_grosze))
                .join(Payment, Payment.id == PaymentItem.payment_id)
                .where(*counted)
                .group_by(PaymentItem.fee_code)
                .order_by(PaymentItem.fee_code)
            ).all()
            methods = session.execute(
                select(Payment.method, func.sum(Payment.handling_fee_grosze), func.sum(Payment.total_grosze))
                .where(*counted)
                .group_by(Payment.method)
            ).all()
        takings.by_fee_code.update((code, int(total)) for code, total in fees)
        for method, handling, total in methods:
            takings.handling_fees[method] = int(handling)
            takings.by_method[method] = int(total)
        return takings

    @staticmethod
    def _records(session: Session, query) -> tuple[PaymentRecord, ...]:
        payments = session.scalars(query).all()
        items: dict[str, list[PaidItem]] = defaultdict(list)
        ids = [p.id for p in payments]
        for chunk in range(0, len(ids), 500):
            rows = session.scalars(
                select(PaymentItem)
                .where(PaymentItem.payment_id.in_(ids[chunk : chunk + 500]))
                .order_by(PaymentItem.payment_id, PaymentItem.position)
            )
            for row in rows:
                items[row.payment_id].append(PaidItem(row.fee_code, row.fee_name, row.amount_grosze))
        return tuple(_payment_record(p, items[p.id]) for p in payments)


def _payment_record(p: Any, items: Iterable[PaidItem]) -> PaymentRecord:
    """A payment as stored (its ORM object, or a driver row with the same names) with its items."""
    return PaymentRecord(
        payment_id=p.id,
        receipt_number=p.receipt_number,
        office_code=p.office_code,
        desk_id=p.desk_id,
        business_day=p.business_day,
        cashier=p.cashier,
        system=p.system,
        case_number=p.case_number,
        method=p.method,
        card_auth_code=p.card_auth_code,
        items=tuple(items),
        items_total_grosze=p.items_total_grosze,
        handling_fee_grosze=p.handling_fee_grosze,
        total_grosze=p.total_grosze,
        paid_at=p.paid_at,
        voided_at=p.voided_at,
        voided_by=p.voided_by,
        void_reason=p.void_reason,
        payer_name=p.payer_name,
        payer_address=p.payer_address,
    )


def _desk_day_payments(office_code: str, desk_id: str, day: date):
    return (
        select(Payment)
        .where(Payment.office_code == office_code, Payment.desk_id == desk_id, Payment.business_day == day)
        .order_by(Payment.year, Payment.number)
    )


def _find_day(session: Session, office_code: str, desk_id: str, day: date) -> DeskDay | None:
    return session.scalars(
        select(DeskDay).where(DeskDay.office_code == office_code, DeskDay.desk_id == desk_id, DeskDay.day == day)
    ).one_or_none()


def _closed_day(desk_day: DeskDay) -> ClosedDay:
    """The daily cash report of a closed desk day (the caller checked `closed_at`)."""
    return ClosedDay(
        report_id=_report_field(desk_day.report_id),
        office_code=desk_day.office_code,
        desk_id=desk_day.desk_id,
        day=desk_day.day,
        closed_at=_report_field(desk_day.closed_at),
        closed_by=_report_field(desk_day.closed_by),
        totals=DeskTotals(
            _report_field(desk_day.payment_count),
            _report_field(desk_day.voided_count),
            _report_field(desk_day.cash_total_grosze),
            _report_field(desk_day.card_total_grosze),
            _report_field(desk_day.handling_fee_total_grosze),
        ),
        count=_cash_count(desk_day),
        late_close_supervisor=desk_day.late_close_supervisor,
    )


_Field = TypeVar("_Field")


def _report_field(value: _Field | None) -> _Field:
    """A report field of a closed desk day: close_day sets them all with `closed_at`, in one UPDATE."""
    assert value is not None
    return value


def _cash_count(desk_day: DeskDay) -> CashCount | None:
    counted, difference = desk_day.counted_cash_grosze, desk_day.cash_difference_grosze
    if counted is None:
        return None  # closed without a cash count
    assert difference is not None  # CHECK count_has_difference: both are set or neither
    return CashCount(counted - difference, counted, desk_day.difference_confirmed_by)


def _locked(session: Session, model: Any, key: dict, defaults: dict) -> Row[Any]:
    """Get or create the row with primary or unique `key`, locked FOR UPDATE and read
    fresh under the lock (a Core row). Safe when several processes create the same row
    at once: the losers of the insert wait for the winner and then lock its row."""
    connection = session.connection()
    table = model.__table__
    connection.execute(insert_if_absent(connection.dialect.name, table, *key), {**key, **defaults})
    query = select(table).filter_by(**key).with_for_update()
    return connection.execute(query).one()
