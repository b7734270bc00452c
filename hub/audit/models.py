from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(120), index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")


def record_event(session: Session, at: datetime, actor: str, action: str, subject: str, **detail: object) -> None:
    """Add an audit event to the caller's transaction: it commits with the effect or not at all."""
    session.add(
        AuditEvent(
            at=at, actor=actor, action=action, subject=subject, detail=json.dumps(detail, sort_keys=True, default=str)
        )
    )
