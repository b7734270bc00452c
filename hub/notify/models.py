"""Who a company wants warned, and every warning the hub decided to send.

A warning is sent through the outbox (hub.outbox): one record per channel, written in
the transaction that decides the warning, so it is delivered (and retried) exactly
once per channel whatever happens to the process. `Notification.key` is unique: the
same low-balance episode or the same expiry day of a company is never warned twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class NotificationEvent(StrEnum):
    """`Notification.event`, also the webhook's `event` field."""

    LOW_BALANCE = "LOW_BALANCE"
    COUPONS_EXPIRING = "COUPONS_EXPIRING"


# The members by the short names the services use.
LOW_BALANCE, COUPONS_EXPIRING = NotificationEvent.LOW_BALANCE, NotificationEvent.COUPONS_EXPIRING


class NotificationSettings(Base):
    """A company's threshold and channels. `low_balance_episode` counts the times its
    available balance went below the threshold; `low_since` is set while it stays there
    (the warning of this episode is sent), cleared when it is back at or above."""

    __tablename__ = "notification_settings"

    company_nip: Mapped[str] = mapped_column(ForeignKey("companies.nip"), primary_key=True)
    low_balance_grosze: Mapped[int | None] = mapped_column(BigInteger)
    email: Mapped[str | None] = mapped_column(String(254))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))  # the HMAC key; never printed
    low_balance_episode: Mapped[int] = mapped_column(Integer, default=0)
    low_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. low-balance:5260250274:3
    company_nip: Mapped[str] = mapped_column(ForeignKey("companies.nip"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)  # the webhook's JSON, as signed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    email_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_records.id"))
    webhook_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_records.id"))
