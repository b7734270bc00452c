"""Settlements: what each office earned in a business day, paid out by the bank."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class TransferAnswer(StrEnum):
    """The bank's answer to a TransferRequest (the bank contract's `Status`): the fake bank
    writes it, hub.settlement reads it."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class SettlementStatus(StrEnum):
    """`Settlement.status`."""

    PENDING = "PENDING"  # in the outbox, no answer yet
    SENT = "SENT"  # the bank ACCEPTED it
    BOOKED = "BOOKED"  # on the escrow statement
    REJECTED = "REJECTED"  # refused, the money is back on the office's account
    # Booked, then returned by the bank (a reversed debit on a statement): the money is back
    # on the office's account.
    RETURNED = "RETURNED"
    CARRIED = "CARRIED"  # nothing to send (zero, or negative after reversals: netted next time)


# The members by the short names the services use.
PENDING, SENT, BOOKED, REJECTED, RETURNED, CARRIED = (
    SettlementStatus.PENDING,
    SettlementStatus.SENT,
    SettlementStatus.BOOKED,
    SettlementStatus.REJECTED,
    SettlementStatus.RETURNED,
    SettlementStatus.CARRIED,
)
STATUSES = tuple(SettlementStatus)


class Settlement(Base):
    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    office_code: Mapped[str] = mapped_column(String(4))
    business_day: Mapped[date] = mapped_column(Date)
    amount_grosze: Mapped[int] = mapped_column(BigInteger)  # CARRIED: zero or negative, never sent
    status: Mapped[str] = mapped_column(String(10))
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), unique=True)
    creditor_account: Mapped[str] = mapped_column(String(34))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_records.id"))
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    bank_entry_id: Mapped[int | None] = mapped_column(BigInteger)  # the statement entry that booked it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("office_code", "business_day", name="uq_settlements_office_day"),
        CheckConstraint(
            "status IN ('PENDING', 'SENT', 'BOOKED', 'REJECTED', 'RETURNED', 'CARRIED')", name="status_known"
        ),
        CheckConstraint("(status = 'CARRIED') = (amount_grosze <= 0)", name="sent_only_when_positive"),
        CheckConstraint("(status = 'CARRIED') = (end_to_end_id IS NULL)", name="end_to_end_id_when_sent"),
        Index("ix_settlements_status", "status"),
    )
