"""The replay cache of WS-Security signatures, shared by every hub process
through the database: a signature value seen within its freshness window is
refused the second time, whichever process saw it first.

Every signed request adds a row, so the table is kept bounded as it goes: each
process forgets the expired rows at most every `purge_interval_s` seconds, in a
short transaction of its own after a request (`purge_if_due`). No timer or
operator is needed; the table holds about (requests per second) x
(`replay_window_s` + `purge_interval_s`) rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, delete
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import Clock, utcnow
from hub.db.base import Base, UtcDateTime
from hub.db.database import Claim, Database


class SeenSignature(Base):
    __tablename__ = "seen_signatures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


PURGE_INTERVAL_S = 60

_SEEN = cast(Table, SeenSignature.__table__)


class DatabaseReplayCache:
    def __init__(self, db: Database, clock: Clock = utcnow, purge_interval_s: int = PURGE_INTERVAL_S) -> None:
        self.db = db
        self.clock = clock
        self.purge_interval = timedelta(seconds=purge_interval_s)
        self._next_purge_at: datetime | None = None  # the first request of a process purges

    def remember(self, key: str, expires_at: datetime) -> bool:
        """True the first time `key` is seen; False for a replay."""
        with self.db.writing() as connection:
            return self.claim(key, expires_at).made_in(connection)

    @staticmethod
    def claim(key: str, expires_at: datetime) -> Claim:
        """The key's row, to be made in the caller's transaction (`Claim.made_in`: `ON CONFLICT
        DO NOTHING`, so a replay leaves the transaction usable) or with something else, both or
        neither: the SOAP endpoint makes it with the request's message log record
        (MessageLog.send_claimed)."""
        return Claim(_SEEN, "key", {"key": key, "expires_at": expires_at})

    def purge(self) -> int:
        """Forget signatures whose window has passed (they would be refused as stale anyway)."""
        with self.db.transaction() as session:
            result = session.connection().execute(delete(SeenSignature).where(SeenSignature.expires_at < self.clock()))
            return int(result.rowcount)

    def purge_if_due(self) -> int:
        """`purge`, when this process has not purged for `purge_interval_s`; else nothing.
        Called after a request's transaction committed (never inside it: on SQLite a second
        writer would wait for the first). Two processes purging at once delete disjoint or
        already deleted rows; both succeed."""
        now = self.clock()
        if self._next_purge_at is not None and now < self._next_purge_at:
            return 0
        self._next_purge_at = now + self.purge_interval
        return self.purge()
