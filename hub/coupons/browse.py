"""Reading a company's coupons the way a person looks for them: batch by batch,
and by searching for a coupon id, a batch id or the case number it was used for.

Changes no state. Every read asks the actor for `coupons:read` in the company;
a batch of another company is NotFound, as in CouponQueries.print_run. Statuses
are as CouponQueries reports them (an issued coupon past its expiry is EXPIRED
before the daily expiry has run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select

from hub.access import COUPONS_READ, Actor
from hub.companies.models import Company
from hub.companies.service import find_company, valid_nip
from hub.coupons.models import EXPIRED, ISSUED, Coupon, CouponBatch, Redemption
from hub.coupons.queries import CouponQueries, ListedCoupon, coupon_order
from hub.coupons.service import STATUSES
from hub.errors import InvalidRequest, NotFound
from hub.ids import MalformedId, normalize_coupon_id

BATCHES_LIMIT_MAX = 200
BATCH_COUPONS_MAX = 1000  # the contract's batch_count_max: every coupon of a batch fits one page
SEARCH_RESULTS_MAX = 100
SEARCH_CHARS_MAX = 64


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    case_type: str
    count: int
    amount_grosze: int  # each coupon
    office_code: str | None  # set: the coupons are valid only there
    issued_by: str
    issued_at: datetime
    by_status: dict[str, int] = field(default_factory=dict)  # every status, 0 where none
    reference: str | None = None  # the company's own (a contract number, a VIN)

    @property
    def total_grosze(self) -> int:
        return self.count * self.amount_grosze


@dataclass(frozen=True)
class BatchPage:
    total: int  # every batch of the company, not only this page
    batches: tuple[BatchSummary, ...]


@dataclass(frozen=True)
class BatchDetail:
    batch: BatchSummary
    coupons: tuple[ListedCoupon, ...]  # in page order


class CouponBrowser:
    def __init__(self, coupons: CouponQueries) -> None:
        self.coupons = coupons
        self.db = coupons.db
        self.clock = coupons.clock

    def batches(
        self, *, actor: Actor, company_nip: str, offset: int = 0, limit: int = 25, newest_first: bool = True
    ) -> BatchPage:
        """The company's batches, newest first (or oldest first), with their coupons counted by status."""
        nip = valid_nip(company_nip)
        actor.require(COUPONS_READ, company_nip=nip)
        if not 1 <= limit <= BATCHES_LIMIT_MAX:
            raise InvalidRequest(f"Limit must be 1 to {BATCHES_LIMIT_MAX}, got {limit}")
        if offset < 0:
            raise InvalidRequest(f"Offset must be 0 or more, got {offset}")
        with self.db.read() as session:
            company = find_company(session, nip)
            total = session.execute(
                select(func.count()).select_from(CouponBatch).where(CouponBatch.company_id == company.id)
            ).scalar_one()
            rows = session.scalars(
                select(CouponBatch)
                .where(CouponBatch.company_id == company.id)
                .order_by(CouponBatch.issued_at.desc() if newest_first else CouponBatch.issued_at, CouponBatch.id)
                .offset(offset)
                .limit(limit)
            ).all()
            counts = self._status_counts(session, [b.id for b in rows])
        return BatchPage(total, tuple(_summary(b, counts.get(b.id, {})) for b in rows))

    def batch(self, *, actor: Actor, batch_id: str) -> BatchDetail:
        """One batch and its coupons."""
        with self.db.read() as session:
            found = session.execute(
                select(CouponBatch, Company.nip)
                .join(Company, Company.id == CouponBatch.company_id)
                .where(CouponBatch.id == batch_id[:36])
            ).one_or_none()
            if found is None or (actor.company_nip is not None and found[1] != actor.company_nip):
                raise NotFound(f"no batch {batch_id}")
            batch, nip = found
            actor.require(COUPONS_READ, company_nip=nip)
            rows = session.execute(
                select(Coupon, Redemption)
                .outerjoin(Redemption, and_(Redemption.coupon_id == Coupon.id, Redemption.reversed_at.is_(None)))
                .where(Coupon.batch_id == batch.id)
                .order_by(Coupon.position)
                .limit(BATCH_COUPONS_MAX)
            ).all()
            counts = self._status_counts(session, [batch.id])
        return BatchDetail(
            _summary(batch, counts.get(batch.id, {})),
            tuple(self.coupons._listed(c, r, batch.reference) for c, r in rows),
        )

    def search(
        self, *, actor: Actor, company_nip: str, text: str, newest_first: bool = False
    ) -> tuple[ListedCoupon, ...]:
        """Coupons of the company matching `text`: a coupon id (typed as forgivingly as
        anywhere), a batch id, the case number a coupon was used for, or the company's
        reference of its batch (exactly as typed at issue, ignoring case)."""
        nip = valid_nip(company_nip)
        actor.require(COUPONS_READ, company_nip=nip)
        text = text.strip()
        if not text:
            raise InvalidRequest("type a coupon id, a batch id, a case number or a reference").about("search_empty")
        if len(text) > SEARCH_CHARS_MAX:
            raise InvalidRequest(f"a search has at most {SEARCH_CHARS_MAX} characters").about(
                "search_too_long", max=SEARCH_CHARS_MAX
            )
        matches = [
            Coupon.batch_id == text,
            Redemption.case_number == text,
            func.lower(CouponBatch.reference) == text.lower(),
        ]
        try:
            matches.append(Coupon.id == normalize_coupon_id(text))
        except MalformedId:
            pass
        with self.db.read() as session:
            company = find_company(session, nip)
            rows = session.execute(
                select(Coupon, Redemption, CouponBatch.reference)
                .join(CouponBatch, CouponBatch.id == Coupon.batch_id)
                .outerjoin(Redemption, and_(Redemption.coupon_id == Coupon.id, Redemption.reversed_at.is_(None)))
                .where(Coupon.company_id == company.id, or_(*matches))
                .order_by(*coupon_order(newest_first))
                .limit(SEARCH_RESULTS_MAX)
            ).all()
        return tuple(self.coupons._listed(c, r, ref) for c, r, ref in rows)

    def _status_counts(self, session, batch_ids: list[str]) -> dict[str, dict[str, int]]:
        if not batch_ids:
            return {}
        past_expiry = func.sum(case((Coupon.expires_at <= self.clock(), 1), else_=0))
        rows = session.execute(
            select(Coupon.batch_id, Coupon.status, func.count(), past_expiry)
            .where(Coupon.batch_id.in_(batch_ids))
            .group_by(Coupon.batch_id, Coupon.status)
        ).all()
        counts: dict[str, dict[str, int]] = {}
        for batch_id, status, n, expired in rows:
            by_status = counts.setdefault(batch_id, dict.fromkeys(STATUSES, 0))
            if status == ISSUED:  # as reported: an issued coupon past its expiry is EXPIRED
                by_status[ISSUED] += n - int(expired)
                by_status[EXPIRED] += int(expired)
            else:
                by_status[status] += n
        return counts


def _summary(batch: CouponBatch, by_status: dict[str, int]) -> BatchSummary:
    return BatchSummary(
        batch.id,
        batch.case_type,
        batch.count,
        batch.amount_grosze,
        batch.office_code,
        batch.issued_by,
        batch.issued_at,
        by_status or dict.fromkeys(STATUSES, 0),
        batch.reference,
    )
