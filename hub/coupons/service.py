"""The coupon lifecycle, each step one atomic transaction with its ledger transfers.

issue   -> ISSUED     hold (PENDING company -> clearing), a batch all or nothing
redeem  -> REDEEMED   capture (POST the hold, all or part) and pay the office
reverse -> ISSUED     refund the office's capture and hold the coupon again
cancel  -> CANCELLED  release (VOID the hold)
expire  -> EXPIRED    release
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from hub.access import COUPONS_CANCEL, COUPONS_ISSUE, COUPONS_REDEEM, Actor
from hub.audit.models import record_event
from hub.clock import Clock, business_day, utcnow
from hub.companies.models import Company
from hub.companies.service import find_company, valid_nip
from hub.config import CouponSettings, Offices, Tariff
from hub.coupons.models import CANCELLED, EXPIRED, ISSUED, REDEEMED, Coupon, CouponBatch, Redemption, status_as_reported
from hub.db.database import BEFORE_COMMIT, Database, DriverStatement, Sent
from hub.db.idempotency import once
from hub.errors import CouponNotRedeemable, InvalidRequest, NotAuthorized, NotFound
from hub.ids import MalformedId, format_coupon_id, new_coupon_id, new_uuid, normalize_coupon_id
from hub.ledger import Ledger, NewTransfer
from hub.ledger.chart import CLEARING, CONTROL, OFFICE, company_account, office_account
from hub.ledger.codes import TransferCode
from hub.money import format_pln

EXPIRY_CHUNK = 500
BATCH_REFERENCE_CHARS_MAX = 64  # company.xsd BatchReference

# VerifyCoupon reasons (contract section 4)
NOT_FOUND, MALFORMED = "NOT_FOUND", "MALFORMED"
CASE_TYPE_MISMATCH, PAYER_MISMATCH, OFFICE_MISMATCH = ("CASE_TYPE_MISMATCH", "PAYER_MISMATCH", "OFFICE_MISMATCH")

# The lifecycle's statements, built once (a statement object keeps its compiled form): Core rows,
# no ORM objects, on every verification and redemption; the coupon's and the redemption's
# writes on the driver (DriverStatement). A coupon's row carries its company's
# NIP and name (`nip`, `name`), so one row answers for both.
_COUPONS, _REDEMPTIONS = cast(Table, Coupon.__table__), cast(Table, Redemption.__table__)
_COMPANIES = cast(Table, Company.__table__)
_COUPON_WITH_COMPANY = (
    select(*_COUPONS.c, _COMPANIES.c.nip, _COMPANIES.c.name)
    .join(_COMPANIES, _COMPANIES.c.id == _COUPONS.c.company_id)
    .where(_COUPONS.c.id == bindparam("coupon_id"))
)
# On the driver (DriverStatement.rows): every VerifyCoupon reads it, every RedeemCoupon locks it.
_FIND_COUPON = DriverStatement(_COUPON_WITH_COMPANY)
_LOCK_COUPON = DriverStatement(_COUPON_WITH_COMPANY.with_for_update(of=_COUPONS))
_LOCK_REDEMPTION = select(_REDEMPTIONS).where(_REDEMPTIONS.c.id == bindparam("redemption_id")).with_for_update()
_SET_COUPON = DriverStatement(update(_COUPONS).where(_COUPONS.c.id == bindparam("coupon_id")))
_SET_REDEMPTION = update(_REDEMPTIONS).where(_REDEMPTIONS.c.id == bindparam("redemption_id"))
_ADD_REDEMPTION = DriverStatement(insert(_REDEMPTIONS))
_ADD_BATCH = insert(cast(Table, CouponBatch.__table__))
# A row of _COUPON_WITH_COMPANY (DriverStatement.rows: a named tuple), or of _COUPONS alone (for _release).
CouponRow = Any


@dataclass(frozen=True)
class IssuedCoupon:
    coupon_id: str  # canonical XXXX-XXXX-XXXX-XXXX
    amount_grosze: int
    case_type: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: str
    total_held_grosze: int
    coupons: tuple[IssuedCoupon, ...]


@dataclass(frozen=True)
class BatchQuote:
    """What issuing a batch holds at today's fee: shown before the company confirms."""

    each_grosze: int
    count: int

    @property
    def total_grosze(self) -> int:
        return self.each_grosze * self.count


@dataclass(frozen=True)
class CouponCheck:
    """VerifyCoupon's answer. For MALFORMED and NOT_FOUND only `coupon_id` (as typed), `valid` and `reason`
    are known."""

    coupon_id: str
    valid: bool
    reason: str | None
    status: str | None = None
    amount_grosze: int | None = None
    case_type: str | None = None
    payer_nip: str | None = None
    payer_name: str | None = None
    expires_at: datetime | None = None
    current_fee_grosze: int | None = None  # the coupon's case type's fee today (None: no fee in force)


@dataclass(frozen=True)
class RedemptionResult:
    redemption_id: str
    coupon_id: str
    captured_grosze: int
    released_grosze: int
    redeemed_at: datetime


@dataclass(frozen=True)
class ReversalResult:
    coupon_id: str
    status: str
    reversed_at: datetime


@dataclass(frozen=True)
class ExpiryRun:
    expired: int
    released_grosze: int


@dataclass(frozen=True)
class IssuedRecord:
    """IssueCoupons' answer as its idempotency key keeps it (hub.db.idempotency)."""

    batch_id: str
    ids: tuple[str, ...]  # storage forms, in page order
    amount: int  # grosze, each coupon
    case_type: str
    expires_at: datetime


@dataclass(frozen=True)
class RedeemedRecord:
    """RedeemCoupon's answer as its idempotency key keeps it."""

    id: str  # the redemption
    captured: int  # grosze
    released: int
    at: datetime


@dataclass(frozen=True)
class ReversedRecord:
    """ReverseRedemption's answer as its idempotency key keeps it."""

    coupon: str  # storage form
    at: datetime


@dataclass(frozen=True)
class CancelledRecord:
    """CancelCoupon's answer as its idempotency key keeps it."""

    released: int  # grosze


def _hold_id(coupon_id: str, n: int) -> str:
    return f"hold:{coupon_id}:{n}"


def _coupon_id(text: str) -> str:
    try:
        return normalize_coupon_id(text)
    except MalformedId as e:
        raise CouponNotRedeemable(f"coupon id {text!r} is malformed: {e}", MALFORMED) from None


@dataclass(eq=False)
class CouponService:
    """`settings` is [coupons]; `reversal_window_h` is [settlement]'s, how long an office
    may reverse a redemption."""

    db: Database
    tariff: Tariff
    offices: Offices
    settings: CouponSettings
    reversal_window_h: int
    clock: Clock = utcnow

    def quote(self, case_type: str, count: int) -> BatchQuote:
        """What issue() would hold today for `count` coupons of `case_type` at the fee
        in force (the coupon's amount when the request names none). Changes no state."""
        kind = self.tariff.case_type(case_type)
        return BatchQuote(self.tariff.case_type_amount_grosze(kind.code, business_day(self.clock())), count)

    # -- issue ------------------------------------------------------------

    def issue(
        self,
        *,
        request_id: str,
        company_nip: str,
        case_type: str,
        count: int,
        amount_grosze: int | None = None,
        office_code: str | None = None,
        actor: Actor,
        issued_by: str | None = None,
        reference: str | None = None,
    ) -> IssuedBatch:
        """`issued_by` names the person for the batch record (a signed company system
        may pass its employee); the default is the actor. `reference` is the company's
        own for the batch (a contract number, a VIN), printed on its coupons."""
        nip = valid_nip(company_nip)
        reference = valid_batch_reference(reference)
        actor.require(COUPONS_ISSUE, company_nip=nip)
        issued_by = (issued_by or actor.name)[:120]
        kind = self.tariff.case_type(case_type)
        count_max = self.settings.batch_count_max
        if not 1 <= count <= count_max:
            raise InvalidRequest(f"Count must be 1 to {count_max}, got {count}").about("count_range", max=count_max)
        fee_grosze = self.tariff.fee_schedule.amount_grosze(kind.fees, business_day(self.clock()))
        if amount_grosze is None:
            amount_grosze = fee_grosze
        if amount_grosze <= 0:
            raise InvalidRequest("a coupon's Amount must be at least 0.01")
        if amount_grosze < fee_grosze and not kind.allow_lower_amount:
            raise InvalidRequest(
                f"Amount {format_pln(amount_grosze)} is below the {kind.code} fee of {format_pln(fee_grosze)}; "
                f"a lower amount needs allow_lower_amount = true for this case type in fees.toml"
            )
        if office_code is not None:
            self.offices.known(office_code)
        validity_days = kind.validity_days or self.settings.validity_days
        content = {
            "nip": nip,
            "case_type": kind.code,
            "count": count,
            "amount": amount_grosze,
            "office": office_code,
            "by": issued_by,
        }
        if reference is not None:  # only when given, so a RequestId stored before references keeps its content
            content["reference"] = reference

        def work(session: Session) -> IssuedRecord:
            company = find_company(session, nip)
            now = self.clock()
            expires_at = now + timedelta(days=validity_days)
            batch_id = new_uuid()
            ids = [new_coupon_id() for _ in range(count)]
            ledger = Ledger(session, self.clock)
            ledger.expect(company.ledger_code)  # read with the clearing account
            ledger.open_account(CLEARING, CONTROL)
            ledger.apply(
                [
                    NewTransfer(
                        _hold_id(cid, 1),
                        company.ledger_code,
                        CLEARING,
                        amount_grosze,
                        TransferCode.HOLD,
                        cid,
                        pending=True,
                    )
                    for cid in ids
                ]
            )
            # What the batch's row and each of its coupons' rows say alike.
            issued = dict(
                company_id=company.id,
                case_type=kind.code,
                amount_grosze=amount_grosze,
                office_code=office_code,
                issued_at=now,
            )
            connection = session.connection()
            connection.execute(
                _ADD_BATCH, dict(id=batch_id, count=count, issued_by=issued_by, reference=reference, **issued)
            )
            coupon = dict(batch_id=batch_id, status=ISSUED, expires_at=expires_at, holds=1, closed_at=None, **issued)
            connection.execute(
                insert(_COUPONS),
                [dict(id=cid, position=i, hold_transfer_id=_hold_id(cid, 1), **coupon) for i, cid in enumerate(ids)],
            )
            record_event(
                session,
                now,
                actor.name,
                "coupons.issue",
                f"company:{nip}",
                batch=batch_id,
                count=count,
                issued_by=issued_by,
            )
            return IssuedRecord(batch_id, tuple(ids), amount_grosze, kind.code, expires_at)

        record = once(self.db, request_id, "IssueCoupons", content, work, self.clock(), IssuedRecord)
        coupons = tuple(
            IssuedCoupon(format_coupon_id(cid), record.amount, record.case_type, record.expires_at)
            for cid in record.ids
        )
        return IssuedBatch(record.batch_id, record.amount * len(coupons), coupons)

    # -- verify -----------------------------------------------------------

    def verify(
        self,
        coupon_text: str,
        office_code: str,
        case_type: str | None = None,
        payer_nip: str | None = None,
        *,
        actor: Actor,
    ) -> CouponCheck:
        """Changes no state. A typo is caught by the check symbol before any lookup."""
        actor.require(COUPONS_REDEEM, office_code=office_code)
        self.offices.known(office_code)
        try:
            cid = normalize_coupon_id(coupon_text)
        except MalformedId:
            return CouponCheck(coupon_text, False, MALFORMED)
        with self.db.reading() as connection:
            found = next(iter(_FIND_COUPON.rows(connection, {"coupon_id": cid})), None)
        if found is None:
            return CouponCheck(format_coupon_id(cid), False, NOT_FOUND)
        coupon = company = found
        reason = self._refusal(coupon, company, office_code, case_type, payer_nip)
        return CouponCheck(
            format_coupon_id(cid),
            reason is None,
            reason,
            self._status(coupon),
            coupon.amount_grosze,
            coupon.case_type,
            company.nip,
            company.name,
            coupon.expires_at,
            self._current_fee(coupon.case_type),
        )

    def _current_fee(self, case_type: str) -> int | None:
        """The case type's fee today, for the office to compare with the coupon's amount;
        None when fees.toml no longer knows the case type or has no fee in force."""
        if (kind := self.tariff.case_types.find(case_type)) is None:
            return None
        return self.tariff.fee_schedule.amount_in_force_grosze(kind.fees, business_day(self.clock()))

    def _status(self, coupon: Coupon | CouponRow) -> str:
        return status_as_reported(coupon, self.clock())

    def _refusal(
        self,
        coupon: Coupon | CouponRow,
        company: Company | CouponRow,
        office_code: str,
        case_type: str | None,
        payer_nip: str | None,
    ) -> str | None:
        status = self._status(coupon)
        if status != ISSUED:
            return status  # REDEEMED, CANCELLED, EXPIRED are reasons too
        if coupon.office_code is not None and coupon.office_code != office_code:
            return OFFICE_MISMATCH
        if case_type is not None and case_type != coupon.case_type:
            return CASE_TYPE_MISMATCH
        if payer_nip is not None and payer_nip != company.nip:
            return PAYER_MISMATCH
        return None

    # -- redeem -----------------------------------------------------------

    def redeem(
        self,
        *,
        request_id: str,
        coupon_text: str,
        office_code: str,
        case_number: str,
        case_type: str,
        amount_grosze: int | None = None,
        actor: Actor,
    ) -> RedemptionResult:
        """The usage report: capture the hold for the office, exactly once."""
        actor.require(COUPONS_REDEEM, office_code=office_code)
        cid = _coupon_id(coupon_text)
        self.offices.known(office_code)
        case_number = case_number.strip()
        if not case_number:
            raise InvalidRequest("CaseNumber is empty")
        if amount_grosze is not None and amount_grosze <= 0:
            raise InvalidRequest("Amount must be at least 0.01")
        content = {
            "coupon": cid,
            "office": office_code,
            "case": case_number,
            "case_type": case_type,
            "amount": amount_grosze,
        }

        locking: list[Sent] = []  # the coupon's row, read and locked with the RequestId's claim

        def work(session: Session) -> RedeemedRecord:
            coupon = next(iter(locking[0].rows()), None)
            if coupon is None:
                raise CouponNotRedeemable(f"coupon {format_coupon_id(cid)} does not exist", NOT_FOUND)
            company = coupon  # the coupon's row carries its company's NIP
            reason = self._refusal(coupon, company, office_code, case_type, None)
            if reason is not None:
                raise CouponNotRedeemable(f"coupon {format_coupon_id(cid)} cannot be redeemed: {reason}", reason)
            captured = coupon.amount_grosze if amount_grosze is None else amount_grosze
            if captured > coupon.amount_grosze:
                raise InvalidRequest(
                    f"Amount {format_pln(captured)} is more than the coupon's {format_pln(coupon.amount_grosze)}"
                )
            now = self.clock()
            redemption_id = new_uuid()
            ledger = Ledger(session, self.clock)
            office = office_account(office_code)
            ledger.expect(office, opening=OFFICE)  # read with the hold's read; at the office's first redeem, opened
            ledger.post(
                f"capture:{redemption_id}",
                coupon.hold_transfer_id,
                captured,
                code=TransferCode.CAPTURE,
                reference=cid,
                onward=[NewTransfer(f"earn:{redemption_id}", CLEARING, office, captured, TransferCode.EARNING, cid)],
            )
            redemption = dict(
                id=redemption_id,
                coupon_id=cid,
                office_code=office_code,
                case_number=case_number,
                case_type=case_type,
                captured_grosze=captured,
                released_grosze=coupon.amount_grosze - captured,
                redeemed_at=now,
                business_day=business_day(now),
                reversed_at=None,
                reversal_reason=None,
            )
            # nothing in the transaction reads them again: sent with what waits for the commit
            # (on PostgreSQL in its one round trip; the coupon's row is locked already)
            session.info[BEFORE_COMMIT].add(lambda on: _send_redeemed(on, cid, redemption))
            return RedeemedRecord(redemption_id, captured, coupon.amount_grosze - captured, now)

        r = once(
            self.db,
            request_id,
            "RedeemCoupon",
            content,
            work,
            self.clock(),
            RedeemedRecord,
            first=lambda connection: locking.append(_LOCK_COUPON.send(connection, {"coupon_id": cid})),
        )
        return RedemptionResult(r.id, format_coupon_id(cid), r.captured, r.released, r.at)

    # -- reverse ----------------------------------------------------------

    def reverse(
        self, *, request_id: str, redemption_id: str, office_code: str, reason: str, actor: Actor
    ) -> ReversalResult:
        """Undo a redemption within the window: refund the office's capture to the
        company and hold the coupon's amount again. A settled amount leaves the
        office's account negative, to be netted in its next settlement."""
        actor.require(COUPONS_REDEEM, office_code=office_code)
        window = timedelta(hours=self.reversal_window_h)
        content = {"redemption": redemption_id, "office": office_code, "reason": reason}

        def work(session: Session) -> ReversedRecord:
            connection = session.connection()
            locking = {"redemption_id": redemption_id}
            redemption = connection.execute(_LOCK_REDEMPTION, locking).first()
            if redemption is None:
                raise NotFound(f"no redemption {redemption_id}")
            if redemption.office_code != office_code:
                raise NotAuthorized(f"redemption {redemption_id} was made by another office; only it can reverse it")
            coupon = self._lock(session, redemption.coupon_id)
            assert coupon is not None  # redemptions.coupon_id is a foreign key to coupons
            company = coupon  # the coupon's row carries its company's NIP
            redemption = connection.execute(_LOCK_REDEMPTION, locking).one()  # read again, locked
            if redemption.reversed_at is not None:
                raise InvalidRequest(f"redemption {redemption_id} is already reversed")
            now = self.clock()
            if now - redemption.redeemed_at > window:
                raise InvalidRequest(f"the reversal window of {self.reversal_window_h} h has passed")
            ledger = Ledger(session, self.clock)
            ledger.transfer(
                f"reversal:{redemption_id}",
                office_account(office_code),
                company_account(company.nip),
                redemption.captured_grosze,
                TransferCode.REVERSAL,
                coupon.id,
            )
            holds = coupon.holds + 1
            ledger.hold(
                _hold_id(coupon.id, holds),
                company_account(company.nip),
                CLEARING,
                coupon.amount_grosze,
                TransferCode.HOLD,
                coupon.id,
            )
            _SET_COUPON.execute(
                connection,
                {
                    "coupon_id": coupon.id,
                    "holds": holds,
                    "hold_transfer_id": _hold_id(coupon.id, holds),
                    "status": ISSUED,
                },
            )
            connection.execute(_SET_REDEMPTION, {**locking, "reversed_at": now, "reversal_reason": reason[:200]})
            return ReversedRecord(coupon.id, now)

        r = once(self.db, request_id, "ReverseRedemption", content, work, self.clock(), ReversedRecord)
        return ReversalResult(format_coupon_id(r.coupon), ISSUED, r.at)

    # -- cancel and expire ------------------------------------------------

    def cancel(self, *, request_id: str, coupon_text: str, actor: Actor) -> int:
        """Cancel an issued coupon and release its hold. Returns the grosze released.
        A coupon of a company the actor does not act for is NotFound."""
        try:
            cid = normalize_coupon_id(coupon_text)
        except MalformedId as e:
            raise InvalidRequest(f"coupon id {coupon_text!r} is malformed: {e}").about("coupon_malformed") from None

        def work(session: Session) -> CancelledRecord:
            coupon = self._lock(session, cid)
            if coupon is None or (actor.company_nip is not None and coupon.nip != actor.company_nip):
                raise NotFound(f"no coupon {format_coupon_id(cid)}")
            company = coupon  # the coupon's row carries its company's NIP
            actor.require(COUPONS_CANCEL, company_nip=company.nip)
            if coupon.status != ISSUED:
                raise InvalidRequest(
                    f"coupon {format_coupon_id(cid)} is {coupon.status}; only an issued coupon can be cancelled"
                ).about("coupon_not_issued")
            now = self.clock()
            self._release(session, coupon, CANCELLED, now)
            record_event(session, now, actor.name, "coupons.cancel", f"company:{company.nip}", coupon=cid)
            return CancelledRecord(coupon.amount_grosze)

        return once(
            self.db,
            request_id,
            "CancelCoupon",
            {"coupon": cid, "actor": actor.name},
            work,
            self.clock(),
            CancelledRecord,
        ).released

    def expire(self, *, actor: Actor) -> ExpiryRun:
        """Release the holds of coupons past their expiry, for every company: the operator's
        daily job. Idempotent: run it as often as you like."""
        actor.require_operator("expire coupons")
        expired = released = 0
        while True:
            with self.db.transaction() as session:
                now = self.clock()
                due = (
                    session.connection()
                    .execute(
                        select(_COUPONS)
                        .where(_COUPONS.c.status == ISSUED, _COUPONS.c.expires_at <= now)
                        .order_by(_COUPONS.c.id)
                        .limit(EXPIRY_CHUNK)
                        .with_for_update(skip_locked=True)
                    )
                    .all()
                )
                for coupon in due:
                    self._release(session, coupon, EXPIRED, now)
                    released += coupon.amount_grosze
                expired += len(due)
            if len(due) < EXPIRY_CHUNK:
                return ExpiryRun(expired, released)

    def _release(self, session: Session, coupon: CouponRow, status: str, now: datetime) -> None:
        Ledger(session, self.clock).void(
            f"release:{coupon.id}:{coupon.holds}",
            coupon.hold_transfer_id,
            code=TransferCode.RELEASE,
            reference=coupon.id,
        )
        _SET_COUPON.execute(session.connection(), {"coupon_id": coupon.id, "status": status, "closed_at": now})

    @staticmethod
    def _lock(session: Session, cid: str) -> CouponRow | None:
        """The coupon's row, locked, with its company's NIP and name (`nip`, `name`)."""
        return next(iter(_LOCK_COUPON.rows(session.connection(), {"coupon_id": cid})), None)


def _send_redeemed(connection: Connection, cid: str, redemption: dict[str, Any]) -> None:
    """A redemption's coupon marked REDEEMED and its row added (a `BeforeCommit` hook, no check:
    an error comes out at the commit's round trip and undoes it all)."""
    _SET_COUPON.send(connection, {"coupon_id": cid, "status": REDEEMED})
    _ADD_REDEMPTION.send(connection, redemption)


STATUSES = (ISSUED, REDEEMED, CANCELLED, EXPIRED)


def valid_batch_reference(reference: str | None) -> str | None:
    """A company's reference for a batch: 1 to BATCH_REFERENCE_CHARS_MAX printable
    characters after trimming; empty means none."""
    if reference is None or not reference.strip():
        return None
    reference = reference.strip()
    if len(reference) > BATCH_REFERENCE_CHARS_MAX or not reference.isprintable():
        raise InvalidRequest(
            f"Reference must be 1 to {BATCH_REFERENCE_CHARS_MAX} printable characters, got {len(reference)}"
        ).about("reference_invalid", max=BATCH_REFERENCE_CHARS_MAX)
    return reference
