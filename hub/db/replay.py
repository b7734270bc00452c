"""The replay cache of WS-Security signatures, shared by every hub process
through the database: a signature value seen within its freshness window is
refused the second time, whichever process saw it first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import Clock, utcnow
from hub.db.base import Base, UtcDateTime
from hub.db.database import Database


class SeenSignature(Base):
    __tablename__ = "seen_signatures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class DatabaseReplayCache:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def remember(self, key: str, expires_at: datetime) -> bool:
        """True the first time `key` is seen; False for a replay."""
        try:
            with self.db.transaction() as session:
                session.add(SeenSignature(key=key, expires_at=expires_at))
            return True
        except IntegrityError:
            return False

    def purge(self) -> int:
        """Forget signatures whose window has passed (they would be refused as stale anyway)."""
        with self.db.transaction() as session:
            return session.execute(delete(SeenSignature).where(SeenSignature.expires_at < self.clock())).rowcount
