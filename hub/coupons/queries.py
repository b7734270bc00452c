"""Reading coupons: ListCoupons' pages and the print runs of the coupon PDF.

The lifecycle (hub.coupons.service) changes coupons; this module only reads them.
The PDF itself is drawn by an adapter (hub.adapters.pdf.coupons) that hub.app
injects as a `CouponSheetsPdf`: the domain decides what is printed and for whom,
the adapter how it looks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO, Protocol

from sqlalchemy import and_, func, or_, select

from hub.access import COUPONS_READ, Actor
from hub.clock import Clock, day_bounds_utc, utcnow
from hub.companies.models import Company
from hub.companies.service import find_company, valid_nip
from hub.coupons.models import EXPIRED, ISSUED, Coupon, CouponBatch, Redemption, status_as_reported
from hub.coupons.qr import QrSigner
from hub.coupons.service import STATUSES
from hub.db.database import Database
from hub.errors import InvalidRequest, NotFound
from hub.ids import MalformedId, format_coupon_id, normalize_coupon_id

LIST_LIMIT_MAX = 1000  # ListCoupons Limit (contract section 5)
LIST_LIMIT_DEFAULT = 100
PRINT_COUPONS_MAX = 1000  # coupons named in one PDF request
PRINT_CHUNK = 200  # coupons read per query while a PDF is written
PER_PAGE = (1, 2, 4)  # coupons to an A4 sheet (hub.adapters.pdf.coupons draws them)


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


class CouponSheetsPdf(Protocol):
    """Draws coupon sheets as a PDF (hub.adapters.pdf.coupons.CouponPdf)."""

    def write(
        self,
        target: BinaryIO,
        sheets: Iterable[CouponSheet],
        signer: QrSigner,
        *,
        title: str,
        count: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        per_page: int = 1,
    ) -> int: ...


@dataclass(frozen=True)
class CouponNames:
    """What a printed coupon names besides codes: case types (fees.toml) and offices
    (offices.toml) by code."""

    case_types: Mapping[str, str] = field(default_factory=dict)
    offices: Mapping[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class CouponQueries:
    """`qr_signer` signs the QR payloads with the hub's own key (hub.app loads it once)."""

    db: Database
    names: CouponNames
    pdf: CouponSheetsPdf
    qr_signer: QrSigner
    clock: Clock = utcnow

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
                .outerjoin(Redemption, and_(Redemption.coupon_id == Coupon.id, Redemption.reversed_at.is_(None)))
                .where(*where)
                .order_by(*coupon_order(newest_first))
                .offset(offset)
                .limit(limit)
            ).all()
        return CouponPage(total or 0, tuple(self._listed(c, r, ref) for c, r, ref in rows))

    def _listed(self, coupon: Coupon, redemption: Redemption | None, reference: str | None = None) -> ListedCoupon:
        return ListedCoupon(
            format_coupon_id(coupon.id),
            coupon.batch_id,
            status_as_reported(coupon, self.clock()),
            coupon.amount_grosze,
            coupon.case_type,
            coupon.issued_at,
            coupon.expires_at,
            redemption.redeemed_at if redemption else None,
            redemption.office_code if redemption else coupon.office_code,
            redemption.case_number if redemption else None,
            reference,
        )

    def print_run(self, *, actor: Actor, batch_id: str | None = None, coupon_ids: Sequence[str] = ()) -> CouponPrint:
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
            return CouponPrint(batch.count, f"Kupony, partia {batch.id}", self._batch_sheets(batch.id))

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
        if per_page not in PER_PAGE:
            raise InvalidRequest(f"PerPage must be 1, 2 or 4 coupons to a sheet, got {per_page}")
        run = self.print_run(actor=actor, batch_id=batch_id, coupon_ids=coupon_ids)
        return self.pdf.write(
            target, run.sheets, self.qr_signer, title=run.title, count=run.count, progress=progress, per_page=per_page
        )

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

    def _named_sheets(self, ids: Sequence[str]) -> Iterator[CouponSheet]:
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
            status=status_as_reported(coupon, self.clock()),
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
        """A case type since removed from fees.toml is named by its code."""
        return self.names.case_types.get(code, code)

    def _office_name(self, code: str | None) -> str | None:
        return None if code is None else self.names.offices.get(code)


def coupon_order(newest_first: bool) -> tuple:
    """Coupons in issue order (each batch in page order), or the newest batch first."""
    if newest_first:
        return Coupon.issued_at.desc(), Coupon.batch_id, Coupon.position
    return Coupon.issued_at, Coupon.batch_id, Coupon.position


def _status_is(status: str, now: datetime):
    """The SQL condition for a status as reported (hub.coupons.models.status_as_reported)."""
    if status == ISSUED:
        return and_(Coupon.status == ISSUED, Coupon.expires_at > now)
    if status == EXPIRED:
        return or_(Coupon.status == EXPIRED, and_(Coupon.status == ISSUED, Coupon.expires_at <= now))
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


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
