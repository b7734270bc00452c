"""The coupon lifecycle, each step one atomic transaction with its ledger transfers.

issue   -> ISSUED     hold (PENDING company -> clearing), a batch all or nothing
redeem  -> REDEEMED   capture (POST the hold, all or part) and pay the office
reverse -> ISSUED     refund the office's capture and hold the coupon again
cancel  -> CANCELLED  release (VOID the hold)
expire  -> EXPIRED    release
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import BinaryIO

from sqlalchemy import and_, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from hub.access import COUPONS_CANCEL, COUPONS_ISSUE, COUPONS_READ, COUPONS_REDEEM, Actor
from hub.audit.models import record_event
from hub.clock import Clock, business_day, day_bounds_utc, utcnow
from hub.companies.models import Company
from hub.companies.service import find_company, valid_nip
from hub.config import HubConfig
from hub.coupons.models import CANCELLED, EXPIRED, ISSUED, REDEEMED, Coupon, CouponBatch, Redemption
from hub.coupons.qr import QrSigner

PER_PAGE = (1, 2, 4)  # coupons to an A4 sheet (hub.documents.coupons draws them)
from hub.db.database import Database
from hub.db.idempotency import once
from hub.errors import CouponNotRedeemable, InvalidRequest, NotAuthorized, NotFound
from hub.ids import MalformedId, format_coupon_id, new_coupon_id, new_uuid, normalize_coupon_id
from hub.ledger import Ledger, NewTransfer
from hub.ledger.chart import CLEARING, CONTROL, OFFICE, office_account
from hub.money import format_pln
from hub.signing.keys import SigningIdentity

EXPIRY_CHUNK = 500
LIST_LIMIT_MAX = 1000  # ListCoupons Limit (contract section 5)
LIST_LIMIT_DEFAULT = 100
PRINT_COUPONS_MAX = 1000  # coupons named in one PDF request
PRINT_CHUNK = 200  # coupons read per query while a PDF is written
BATCH_REFERENCE_CHARS_MAX = 64  # company.xsd BatchReference

# VerifyCoupon reasons (contract section 4)
NOT_FOUND, MALFORMED = "NOT_FOUND", "MALFORMED"
CASE_TYPE_MISMATCH, PAYER_MISMATCH, OFFICE_MISMATCH = (
    "CASE_TYPE_MISMATCH",
    "PAYER_MISMATCH",
    "OFFICE_MISMATCH",
)

# VerifyCoupon's one query, built once (a statement object keeps its compiled form): it runs on every verification.
_COUPON_WITH_COMPANY = (
    select(Coupon, Company)
    .join(Company, Company.id == Coupon.company_id)
    .where(Coupon.id == bindparam("coupon_id"))
)


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
    """VerifyCoupon's answer. For MALFORMED and NOT_FOUND only `coupon_id` (as typed), `valid` and `reason` are known."""

    coupon_id: str
    valid: bool
    reason: str | None
    status: str | None = None
    amount_grosze: int | None = None
    case_type: str | None = None
    payer_nip: str | None = None
    payer_name: str | None = None
    expires_at: datetime | None = None
    current_fee_grosze: int | None = (
        None  # the coupon's case type's fee today (None: no fee in force)
    )


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
class ListedCoupon:
    """One row of ListCoupons. `office_code`: the office that redeemed the coupon,
    or else the one office it is valid at (None: any office)."""

    coupon_id: str  # canonical
    batch_id: str
    status: str
    amount_grosze: int
    case_type: str
    issued_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    office_code: str | None
    case_number: str | None
    reference: str | None = None  # the batch's company reference


@dataclass(frozen=True)
class CouponPage:
    total: int  # every coupon that matches, not only this page
    coupons: tuple[ListedCoupon, ...]


@dataclass(frozen=True)
class CouponSheet:
    """Everything one printed coupon shows."""

    coupon_id: str  # canonical
    status: str
    amount_grosze: int
    case_type: str
    case_type_name: str
    company_nip: str
    company_name: str
    issued_at: datetime
    expires_at: datetime
    office_code: str | None  # valid only at this office
    office_name: str | None
    batch_id: str
    reference: str | None = None  # the batch's company reference, printed under the company


@dataclass(frozen=True)
class CouponPrint:
    """A print run, checked before the first page: `count` sheets, read lazily in chunks."""

    count: int
    title: str
    sheets: Iterator[CouponSheet]


def _hold_id(coupon_id: str, n: int) -> str:
    return f"hold:{coupon_id}:{n}"


def _coupon_id(text: str) -> str:
    try:
        return normalize_coupon_id(text)
    except MalformedId as e:
        raise CouponNotRedeemable(f"coupon id {text!r} is malformed: {e}", MALFORMED) from None


class CouponService:
    def __init__(self, db: Database, config: HubConfig, clock: Clock = utcnow) -> None:
        self.db = db
        self.config = config
        self.clock = clock

    def quote(self, case_type: str, count: int) -> BatchQuote:
        """What issue() would hold today for `count` coupons of `case_type` at the fee
        in force (the coupon's amount when the request names none). Changes no state."""
        kind = self.config.case_type(case_type)
        return BatchQuote(
            self.config.case_type_amount_grosze(kind.code, business_day(self.clock())), count
        )

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
        kind = self.config.case_type(case_type)
        count_max = self.config.coupons.batch_count_max
        if not 1 <= count <= count_max:
            raise InvalidRequest(f"Count must be 1 to {count_max}, got {count}").about(
                "count_range", max=count_max
            )
        fee_grosze = self.config.case_type_amount_grosze(kind.code, business_day(self.clock()))
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
            self.config.office(office_code)
        validity_days = kind.validity_days or self.config.coupons.validity_days
        content = {
            "nip": nip,
            "case_type": kind.code,
            "count": count,
            "amount": amount_grosze,
            "office": office_code,
            "by": issued_by,
        }
        if (
            reference is not None
        ):  # only when given, so a RequestId stored before references keeps its content
            content["reference"] = reference

        def work(session: Session) -> dict:
            company = find_company(session, nip)
            now = self.clock()
            expires_at = now + timedelta(days=validity_days)
            batch_id = new_uuid()
            ids = [new_coupon_id() for _ in range(count)]
            ledger = Ledger(session, self.clock)
            ledger.open_account(CLEARING, CONTROL)
            ledger.apply(
                [
                    NewTransfer(
                        _hold_id(cid, 1),
                        company.ledger_code,
                        CLEARING,
                        amount_grosze,
                        "HOLD",
                        cid,
                        pending=True,
                    )
                    for cid in ids
                ]
            )
            session.add(
                CouponBatch(
                    id=batch_id,
                    company_id=company.id,
                    case_type=kind.code,
                    count=count,
                    amount_grosze=amount_grosze,
                    office_code=office_code,
                    issued_by=issued_by,
                    issued_at=now,
                    reference=reference,
                )
            )
            session.flush()
            session.execute(
                insert(Coupon),
                [
                    dict(
                        id=cid,
                        batch_id=batch_id,
                        company_id=company.id,
                        position=i,
                        case_type=kind.code,
                        amount_grosze=amount_grosze,
                        office_code=office_code,
                        status=ISSUED,
                        issued_at=now,
                        expires_at=expires_at,
                        hold_transfer_id=_hold_id(cid, 1),
                        holds=1,
                        closed_at=None,
                    )
                    for i, cid in enumerate(ids)
                ],
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
            return {
                "batch_id": batch_id,
                "ids": ids,
                "amount": amount_grosze,
                "case_type": kind.code,
                "expires_at": expires_at.isoformat(),
            }

        record = once(self.db, request_id, "IssueCoupons", content, work, self.clock())
        expires_at = datetime.fromisoformat(record["expires_at"])
        coupons = tuple(
            IssuedCoupon(format_coupon_id(cid), record["amount"], record["case_type"], expires_at)
            for cid in record["ids"]
        )
        return IssuedBatch(record["batch_id"], record["amount"] * len(coupons), coupons)

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
        self.config.office(office_code)
        try:
            cid = normalize_coupon_id(coupon_text)
        except MalformedId:
            return CouponCheck(coupon_text, False, MALFORMED)
        with self.db.read() as session:
            found = session.execute(_COUPON_WITH_COMPANY, {"coupon_id": cid}).one_or_none()
        if found is None:
            return CouponCheck(format_coupon_id(cid), False, NOT_FOUND)
        coupon, company = found
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
        try:
            return self.config.case_type_amount_grosze(case_type, business_day(self.clock()))
        except InvalidRequest:
            return None

    def _status(self, coupon: Coupon) -> str:
        if coupon.status == ISSUED and coupon.expires_at <= self.clock():
            return EXPIRED  # the daily expiry has not run yet; the coupon is expired all the same
        return coupon.status

    def _refusal(
        self,
        coupon: Coupon,
        company: Company,
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
        self.config.office(office_code)
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

        def work(session: Session) -> dict:
            coupon = self._lock(session, cid)
            if coupon is None:
                raise CouponNotRedeemable(
                    f"coupon {format_coupon_id(cid)} does not exist", NOT_FOUND
                )
            company = session.get(Company, coupon.company_id)
            reason = self._refusal(coupon, company, office_code, case_type, None)
            if reason is not None:
                raise CouponNotRedeemable(
                    f"coupon {format_coupon_id(cid)} cannot be redeemed: {reason}", reason
                )
            captured = coupon.amount_grosze if amount_grosze is None else amount_grosze
            if captured > coupon.amount_grosze:
                raise InvalidRequest(
                    f"Amount {format_pln(captured)} is more than the coupon's {format_pln(coupon.amount_grosze)}"
                )
            now = self.clock()
            redemption_id = new_uuid()
            ledger = Ledger(session, self.clock)
            ledger.post(
                f"capture:{redemption_id}",
                coupon.hold_transfer_id,
                captured,
                code="CAPTURE",
                reference=cid,
            )
            ledger.open_account(office_account(office_code), OFFICE)
            ledger.transfer(
                f"earn:{redemption_id}",
                CLEARING,
                office_account(office_code),
                captured,
                "EARNING",
                cid,
            )
            coupon.status = REDEEMED
            session.add(
                Redemption(
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
            )
            return {
                "id": redemption_id,
                "captured": captured,
                "released": coupon.amount_grosze - captured,
                "at": now.isoformat(),
            }

        r = once(self.db, request_id, "RedeemCoupon", content, work, self.clock())
        return RedemptionResult(
            r["id"],
            format_coupon_id(cid),
            r["captured"],
            r["released"],
            datetime.fromisoformat(r["at"]),
        )

    # -- reverse ----------------------------------------------------------

    def reverse(
        self, *, request_id: str, redemption_id: str, office_code: str, reason: str, actor: Actor
    ) -> ReversalResult:
        """Undo a redemption within the window: refund the office's capture to the
        company and hold the coupon's amount again. A settled amount leaves the
        office's account negative, to be netted in its next settlement."""
        actor.require(COUPONS_REDEEM, office_code=office_code)
        window = timedelta(hours=self.config.settlement.reversal_window_h)
        content = {"redemption": redemption_id, "office": office_code, "reason": reason}

        def work(session: Session) -> dict:
            redemption = session.get(Redemption, redemption_id)
            if redemption is None:
                raise NotFound(f"no redemption {redemption_id}")
            if redemption.office_code != office_code:
                raise NotAuthorized(
                    f"redemption {redemption_id} was made by another office; only it can reverse it"
                )
            coupon = self._lock(session, redemption.coupon_id)
            session.refresh(redemption, with_for_update=True)
            if redemption.reversed_at is not None:
                raise InvalidRequest(f"redemption {redemption_id} is already reversed")
            now = self.clock()
            if now - redemption.redeemed_at > window:
                raise InvalidRequest(
                    f"the reversal window of {self.config.settlement.reversal_window_h} h has passed"
                )
            company = session.get(Company, coupon.company_id)
            ledger = Ledger(session, self.clock)
            ledger.transfer(
                f"reversal:{redemption_id}",
                office_account(office_code),
                company.ledger_code,
                redemption.captured_grosze,
                "REVERSAL",
                coupon.id,
            )
            coupon.holds += 1
            coupon.hold_transfer_id = _hold_id(coupon.id, coupon.holds)
            ledger.hold(
                coupon.hold_transfer_id,
                company.ledger_code,
                CLEARING,
                coupon.amount_grosze,
                "HOLD",
                coupon.id,
            )
            coupon.status = ISSUED
            redemption.reversed_at = now
            redemption.reversal_reason = reason[:200]
            return {"coupon": coupon.id, "at": now.isoformat()}

        r = once(self.db, request_id, "ReverseRedemption", content, work, self.clock())
        return ReversalResult(
            format_coupon_id(r["coupon"]), ISSUED, datetime.fromisoformat(r["at"])
        )

    # -- cancel and expire ------------------------------------------------

    def cancel(self, *, request_id: str, coupon_text: str, actor: Actor) -> int:
        """Cancel an issued coupon and release its hold. Returns the grosze released.
        A coupon of a company the actor does not act for is NotFound."""
        try:
            cid = normalize_coupon_id(coupon_text)
        except MalformedId as e:
            raise InvalidRequest(f"coupon id {coupon_text!r} is malformed: {e}").about(
                "coupon_malformed"
            ) from None

        def work(session: Session) -> dict:
            coupon = self._lock(session, cid)
            company = session.get(Company, coupon.company_id) if coupon else None
            if coupon is None or (
                actor.company_nip is not None and company.nip != actor.company_nip
            ):
                raise NotFound(f"no coupon {format_coupon_id(cid)}")
            actor.require(COUPONS_CANCEL, company_nip=company.nip)
            if coupon.status != ISSUED:
                raise InvalidRequest(
                    f"coupon {format_coupon_id(cid)} is {coupon.status}; only an issued coupon can be cancelled"
                ).about("coupon_not_issued")
            now = self.clock()
            self._release(session, coupon, CANCELLED, now)
            record_event(
                session, now, actor.name, "coupons.cancel", f"company:{company.nip}", coupon=cid
            )
            return {"released": coupon.amount_grosze}

        return once(
            self.db,
            request_id,
            "CancelCoupon",
            {"coupon": cid, "actor": actor.name},
            work,
            self.clock(),
        )["released"]

    def expire(self) -> ExpiryRun:
        """Release the holds of coupons past their expiry. Idempotent: run it as often as you like."""
        expired = released = 0
        while True:
            with self.db.transaction() as session:
                now = self.clock()
                due = session.scalars(
                    select(Coupon)
                    .where(Coupon.status == ISSUED, Coupon.expires_at <= now)
                    .order_by(Coupon.id)
                    .limit(EXPIRY_CHUNK)
                    .with_for_update(skip_locked=True)
                ).all()
                for coupon in due:
                    self._release(session, coupon, EXPIRED, now)
                    released += coupon.amount_grosze
                expired += len(due)
            if len(due) < EXPIRY_CHUNK:
                return ExpiryRun(expired, released)

    def _release(self, session: Session, coupon: Coupon, status: str, now: datetime) -> None:
        Ledger(session, self.clock).void(
            f"release:{coupon.id}:{coupon.holds}",
            coupon.hold_transfer_id,
            code="RELEASE",
            reference=coupon.id,
        )
        coupon.status = status
        coupon.closed_at = now

    @staticmethod
    def _lock(session: Session, cid: str) -> Coupon | None:
        return session.scalars(
            select(Coupon)
            .where(Coupon.id == cid)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    # -- read: lists and print runs ---------------------------------------

    def list(
        self,
        *,
        actor: Actor,
        company_nip: str,
        status: str | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
        offset: int = 0,
        limit: int = LIST_LIMIT_DEFAULT,
        newest_first: bool = False,
    ) -> CouponPage:
        """A company's coupons, oldest first (issue time, then page order in the batch),
        or `newest_first` (the newest batch first, each batch in page order).
        `issued_from`/`issued_to` are Warsaw business days, both inclusive. `status` is
        as VerifyCoupon reports it: an issued coupon past its expiry is EXPIRED even
        before the daily expiry has run."""
        nip = valid_nip(company_nip)
        actor.require(COUPONS_READ, company_nip=nip)
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"Status must be one of {', '.join(STATUSES)}, got {status!r}")
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidRequest(f"Limit must be 1 to {LIST_LIMIT_MAX}, got {limit}")
        if offset < 0:
            raise InvalidRequest(f"Offset must be 0 or more, got {offset}")
        if issued_from is not None and issued_to is not None and issued_from > issued_to:
            raise InvalidRequest(f"IssuedFrom {issued_from} is after IssuedTo {issued_to}")
        now = self.clock()
        with self.db.read() as session:
            company = find_company(session, nip)
            where = [Coupon.company_id == company.id]
            if status is not None:
                where.append(_status_is(status, now))
            if issued_from is not None:
                where.append(Coupon.issued_at >= day_bounds_utc(issued_from)[0])
            if issued_to is not None:
                where.append(Coupon.issued_at < day_bounds_utc(issued_to)[1])
            total = session.scalar(select(func.count()).select_from(Coupon).where(*where))
            rows = session.execute(
                select(Coupon, Redemption, CouponBatch.reference)
                .join(CouponBatch, CouponBatch.id == Coupon.batch_id)
                .outerjoin(
                    Redemption,
                    and_(Redemption.coupon_id == Coupon.id, Redemption.reversed_at.is_(None)),
                )
                .where(*where)
                .order_by(*coupon_order(newest_first))
                .offset(offset)
                .limit(limit)
            ).all()
        return CouponPage(total, tuple(self._listed(c, r, ref) for c, r, ref in rows))

    def _listed(
        self, coupon: Coupon, redemption: Redemption | None, reference: str | None = None
    ) -> ListedCoupon:
        return ListedCoupon(
            format_coupon_id(coupon.id),
            coupon.batch_id,
            self._status(coupon),
            coupon.amount_grosze,
            coupon.case_type,
            coupon.issued_at,
            coupon.expires_at,
            redemption.redeemed_at if redemption else None,
            redemption.office_code if redemption else coupon.office_code,
            redemption.case_number if redemption else None,
            reference,
        )

    def print_run(
        self, *, actor: Actor, batch_id: str | None = None, coupon_ids: Sequence[str] = ()
    ) -> CouponPrint:
        """The coupons of a batch (in page order) or the coupons named (in the order
        given, each once), for the PDF. Everything is checked here, before the first
        page; the sheets are then read PRINT_CHUNK at a time, so memory stays flat for
        any count. A batch or coupon of a company the actor does not act for is NotFound."""
        if (batch_id is None) == (not coupon_ids):
            raise InvalidRequest("name either a batch or coupons, one of the two")
        if batch_id is not None:
            with self.db.read() as session:
                found = session.execute(
                    select(CouponBatch, Company)
                    .join(Company, Company.id == CouponBatch.company_id)
                    .where(CouponBatch.id == batch_id)
                ).one_or_none()
            if found is None or not _sees(actor, found[1].nip):
                raise NotFound(f"no batch {batch_id}")
            batch, company = found
            actor.require(COUPONS_READ, company_nip=company.nip)
            return CouponPrint(
                batch.count, f"Kupony, partia {batch.id}", self._batch_sheets(batch.id)
            )

        ids = _named_ids(coupon_ids)
        if len(ids) > PRINT_COUPONS_MAX:
            raise InvalidRequest(f"at most {PRINT_COUPONS_MAX} coupons in one PDF, got {len(ids)}")
        owners: dict[str, str] = {}
        with self.db.read() as session:
            for chunk in _chunks(ids, PRINT_CHUNK):
                query = (
                    select(Coupon.id, Company.nip)
                    .join(Company, Company.id == Coupon.company_id)
                    .where(Coupon.id.in_(chunk))
                )
                owners.update({cid: nip for cid, nip in session.execute(query)})
        for cid in ids:
            if cid not in owners or not _sees(actor, owners[cid]):
                raise NotFound(f"no coupon {format_coupon_id(cid)}")
        for nip in sorted(set(owners.values())):
            actor.require(COUPONS_READ, company_nip=nip)
        return CouponPrint(len(ids), "Kupony", self._named_sheets(ids))

    def write_pdf(
        self,
        target: BinaryIO,
        *,
        actor: Actor,
        batch_id: str | None = None,
        coupon_ids: Sequence[str] = (),
        progress: Callable[[int, int], None] | None = None,
        per_page: int = 1,
    ) -> int:
        """The coupons' PDF, `per_page` (1, 2 or 4) coupons to an A4 sheet, each with its
        signed QR code, written to `target` (a binary file object). Returns the number
        of coupons. `progress` is called after each coupon with (done, in all)."""
        from hub.documents.coupons import write_coupons_pdf  # reportlab only where a PDF is made

        if per_page not in PER_PAGE:
            raise InvalidRequest(f"PerPage must be 1, 2 or 4 coupons to a sheet, got {per_page}")
        run = self.print_run(actor=actor, batch_id=batch_id, coupon_ids=coupon_ids)
        return write_coupons_pdf(
            target,
            run.sheets,
            self.qr_signer,
            title=run.title,
            count=run.count,
            progress=progress,
            per_page=per_page,
        )

    @cached_property
    def qr_signer(self) -> QrSigner:
        """Signs QR payloads with the hub's own key (loaded once per process)."""
        return QrSigner(SigningIdentity.load(self.config.signing.key, self.config.signing.cert))

    def _batch_sheets(self, batch_id: str) -> Iterator[CouponSheet]:
        after = -1
        while True:
            with self.db.read() as session:
                rows = session.execute(
                    select(Coupon, Company, CouponBatch.reference)
                    .join(Company, Company.id == Coupon.company_id)
                    .join(CouponBatch, CouponBatch.id == Coupon.batch_id)
                    .where(Coupon.batch_id == batch_id, Coupon.position > after)
                    .order_by(Coupon.position)
                    .limit(PRINT_CHUNK)
                ).all()
                sheets = [self._sheet(c, company, ref) for c, company, ref in rows]
            yield from sheets
            if len(rows) < PRINT_CHUNK:
                return
            after = rows[-1][0].position

    def _named_sheets(self, ids: list[str]) -> Iterator[CouponSheet]:
        for chunk in _chunks(ids, PRINT_CHUNK):
            with self.db.read() as session:
                rows = session.execute(
                    select(Coupon, Company, CouponBatch.reference)
                    .join(Company, Company.id == Coupon.company_id)
                    .join(CouponBatch, CouponBatch.id == Coupon.batch_id)
                    .where(Coupon.id.in_(chunk))
                ).all()
                by_id = {c.id: self._sheet(c, company, ref) for c, company, ref in rows}
            yield from (by_id[cid] for cid in chunk)

    def _sheet(self, coupon: Coupon, company: Company, reference: str | None) -> CouponSheet:
        return CouponSheet(
            coupon_id=format_coupon_id(coupon.id),
            status=self._status(coupon),
            amount_grosze=coupon.amount_grosze,
            case_type=coupon.case_type,
            case_type_name=self._case_type_name(coupon.case_type),
            company_nip=company.nip,
            company_name=company.name,
            issued_at=coupon.issued_at,
            expires_at=coupon.expires_at,
            office_code=coupon.office_code,
            office_name=self._office_name(coupon.office_code),
            batch_id=coupon.batch_id,
            reference=reference,
        )

    def _case_type_name(self, code: str) -> str:
        try:
            return self.config.case_type(code).name
        except InvalidRequest:  # since removed from fees.toml: the code says what it was
            return code

    def _office_name(self, code: str | None) -> str | None:
        if code is None:
            return None
        try:
            return self.config.office(code).name
        except InvalidRequest:
            return None


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


def coupon_order(newest_first: bool) -> tuple:
    """Coupons in issue order (each batch in page order), or the newest batch first."""
    if newest_first:
        return Coupon.issued_at.desc(), Coupon.batch_id, Coupon.position
    return Coupon.issued_at, Coupon.batch_id, Coupon.position


def _status_is(status: str, now: datetime):
    """The SQL condition for a status as reported (see CouponService._status)."""
    if status == ISSUED:
        return and_(Coupon.status == ISSUED, Coupon.expires_at > now)
    if status == EXPIRED:
        return or_(
            Coupon.status == EXPIRED, and_(Coupon.status == ISSUED, Coupon.expires_at <= now)
        )
    return Coupon.status == status


def _sees(actor: Actor, nip: str) -> bool:
    """Whether a coupon or batch of company `nip` exists for this actor at all."""
    return actor.company_nip is None or actor.company_nip == nip


def _named_ids(texts: Sequence[str]) -> list[str]:
    """Storage forms, each once, in the order given; a malformed one is InvalidRequest."""
    ids: dict[str, None] = {}
    for text in texts:
        try:
            ids[normalize_coupon_id(text)] = None
        except MalformedId as e:
            raise InvalidRequest(f"coupon id {text!r} is malformed: {e}") from None
    return list(ids)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
