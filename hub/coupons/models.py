from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Row, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime

# The columns every table here has, typed once: an office's TERYT code, a case type of fees.toml, an amount.
OfficeCode = Annotated[str, mapped_column(String(4))]
CaseType = Annotated[str, mapped_column(String(32))]
Grosze = Annotated[int, mapped_column(BigInteger)]


class CouponStatus(StrEnum):
    """`Coupon.status`, stored and sent as the plain string. EXPIRED is also what a query
    shows for an ISSUED coupon past its expiry that the daily run has not marked yet."""

    ISSUED = "ISSUED"
    REDEEMED = "REDEEMED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# The members by the short names the services use.
ISSUED, REDEEMED, CANCELLED, EXPIRED = (
    CouponStatus.ISSUED,
    CouponStatus.REDEEMED,
    CouponStatus.CANCELLED,
    CouponStatus.EXPIRED,
)


class CouponBatch(Base):
    __tablename__ = "coupon_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    case_type: Mapped[CaseType]
    count: Mapped[int] = mapped_column(Integer)
    amount_grosze: Mapped[Grosze]  # each coupon
    office_code: Mapped[OfficeCode | None]
    issued_by: Mapped[str] = mapped_column(String(120), default="")
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reference: Mapped[str | None] = mapped_column(String(64), index=True)  # the company's own: a contract number, a VIN


class Coupon(Base):
    __tablename__ = "coupons"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # storage form, no dashes
    batch_id: Mapped[str] = mapped_column(ForeignKey("coupon_batches.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    position: Mapped[int] = mapped_column(Integer)  # page order in the batch
    case_type: Mapped[CaseType]
    amount_grosze: Mapped[Grosze]
    office_code: Mapped[OfficeCode | None]  # set: valid only at that office
    status: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    hold_transfer_id: Mapped[str] = mapped_column(String(80))
    holds: Mapped[int] = mapped_column(Integer, default=1)  # a reversal holds again
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # cancelled or expired

    __table_args__ = (
        Index("ix_coupons_company_status", "company_id", "status"),
        Index("ix_coupons_status_expires", "status", "expires_at"),
    )


def status_as_reported(coupon: Coupon | Row[Any], now: datetime) -> str:
    """As VerifyCoupon reports it, of a coupon or its row: an issued coupon past its
    expiry is EXPIRED even before the daily expiry has run."""
    if coupon.status == ISSUED and coupon.expires_at <= now:
        return EXPIRED
    return coupon.status


class Redemption(Base):
    __tablename__ = "redemptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    coupon_id: Mapped[str] = mapped_column(ForeignKey("coupons.id"), index=True)
    office_code: Mapped[OfficeCode]
    case_number: Mapped[str] = mapped_column(String(64))
    case_type: Mapped[CaseType]
    captured_grosze: Mapped[Grosze]
    released_grosze: Mapped[Grosze]
    redeemed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    business_day: Mapped[date] = mapped_column(Date)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reversal_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_redemptions_office_day", "office_code", "business_day"),)
