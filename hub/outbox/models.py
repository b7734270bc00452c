"""The outbox table: messages to systems outside the hub, written in the same
transaction as the domain change that calls for them, delivered afterwards."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class OutboxStatus(StrEnum):
    """`OutboxRecord.status`: PENDING until a courier delivers it (SENT), the receiver
    refuses it for good (REJECTED) or the attempts run out (FAILED)."""

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


# The members by the short names the services use.
PENDING, SENT, FAILED, REJECTED = (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.REJECTED)
STATUSES = tuple(OutboxStatus)


class OutboxRecord(Base):
    """One message. `kind` names the courier that delivers it; `key` makes the
    enqueue idempotent (one record per kind and key). While a courier delivers
    it, `claimed_by`/`claimed_until` hold a lease that keeps every other sender off."""

    __tablename__ = "outbox_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[str | None] = mapped_column(Text)  # JSON: the peer's answer
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_outbox_records_kind_key"),
        CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED', 'REJECTED')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_records_due", "status", "next_attempt_at"),
    )
