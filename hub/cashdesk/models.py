"""Cash desk tables: payments with their items, the receipt number counters and
the desk days that CloseDay freezes.

Two rows serialize the writers of one desk. `DeskDay` (office, desk, business
day) is locked by every payment, void and close of that desk and day, so a
payment racing CloseDay either commits before the close counts it or sees the
day closed. `ReceiptCounter` (office, desk, year) is locked by the payment that
takes the next number, in the same transaction that inserts it: a rollback
gives the number back, so receipt numbers have no gaps.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class PaymentMethod(StrEnum):
    """`Payment.method`."""

    CASH = "CASH"
    CARD = "CARD"


class PaymentStatus(StrEnum):
    """A payment as receipts, listings and the cash report show it (`voided_at` set: VOIDED)."""

    PAID = "PAID"
    VOIDED = "VOIDED"


# The members by the short names the services use.
CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD
METHODS = tuple(PaymentMethod)


class ReceiptCounter(Base):
    """The last receipt number given at a desk in a year (0: none yet)."""

    __tablename__ = "cash_receipt_counters"

    office_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class DeskDay(Base):
    """One desk's business day. `closed_at` set: frozen, and the report fields hold
    the daily cash report as CloseDay produced it."""

    __tablename__ = "cash_desk_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(4))
    desk_id: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    report_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    payment_count: Mapped[int | None] = mapped_column(Integer)
    voided_count: Mapped[int | None] = mapped_column(Integer)
    cash_total_grosze: Mapped[int | None] = mapped_column(BigInteger)
    card_total_grosze: Mapped[int | None] = mapped_column(BigInteger)
    handling_fee_total_grosze: Mapped[int | None] = mapped_column(BigInteger)
    # The cash count at closing (None: the day was closed without one, as before
    # issue 20). difference = counted - expected: negative is a shortage.
    counted_cash_grosze: Mapped[int | None] = mapped_column(BigInteger)
    cash_difference_grosze: Mapped[int | None] = mapped_column(BigInteger)
    difference_confirmed_by: Mapped[str | None] = mapped_column(String(64))  # the supervisor's login
    late_close_supervisor: Mapped[str | None] = mapped_column(
        String(64)
    )  # a day more than one day back, closed with --force

    __table_args__ = (
        UniqueConstraint("office_code", "desk_id", "day", name="uq_cash_desk_days_desk_day"),
        CheckConstraint("(closed_at IS NULL) = (report_id IS NULL)", name="closed_has_report"),
        CheckConstraint(
            "(counted_cash_grosze IS NULL) = (cash_difference_grosze IS NULL)", name="count_has_difference"
        ),
        CheckConstraint(
            "cash_difference_grosze IS NULL OR cash_difference_grosze = 0 OR difference_confirmed_by IS NOT NULL",
            name="difference_confirmed",
        ),
    )


class Payment(Base):
    """A payment taken at a desk for one case. Never edited but to void it."""

    __tablename__ = "cash_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(64), unique=True)
    office_code: Mapped[str] = mapped_column(String(4))
    desk_id: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    business_day: Mapped[date] = mapped_column(Date)
    cashier: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(10))
    case_number: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(4))
    card_auth_code: Mapped[str | None] = mapped_column(String(32))
    items_total_grosze: Mapped[int] = mapped_column(BigInteger)
    handling_fee_grosze: Mapped[int] = mapped_column(BigInteger)
    total_grosze: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
    registered_by: Mapped[str] = mapped_column(String(120))
    payer_name: Mapped[str | None] = mapped_column(String(200))  # who paid, as printed on the receipt (optional)
    payer_address: Mapped[str | None] = mapped_column(String(300))
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(64))  # the supervisor's login
    void_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("office_code", "desk_id", "year", "number", name="uq_cash_payments_desk_year_number"),
        CheckConstraint("method IN ('CASH', 'CARD')", name="method_known"),
        CheckConstraint("(method = 'CARD') = (card_auth_code IS NOT NULL)", name="card_has_auth_code"),
        CheckConstraint(
            "total_grosze = items_total_grosze + handling_fee_grosze AND items_total_grosze > 0", name="total_adds_up"
        ),
        CheckConstraint("(voided_at IS NULL) = (voided_by IS NULL)", name="void_has_supervisor"),
        Index("ix_cash_payments_case", "office_code", "system", "case_number"),
        Index("ix_cash_payments_desk_day", "office_code", "desk_id", "business_day"),
        Index("ix_cash_payments_office_day", "office_code", "business_day"),
    )


class PaymentItem(Base):
    """One fee paid, with the fee's name as printed on the receipt that day."""

    __tablename__ = "cash_payment_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("cash_payments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    fee_code: Mapped[str] = mapped_column(String(32))
    fee_name: Mapped[str] = mapped_column(String(200))
    amount_grosze: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount_grosze > 0", name="amount_positive"),)
