"""A database restored to an earlier point than its message log archives.

After a restore from an older backup (a nightly pg_dump, an SQLite backup) the archive
directory holds records the database never saw: their sequence numbers run past the
database's message log head. Appending there would write a second record N beside the
archived record N, and the state changes of the archived requests (redemptions,
payments, imports) are missing: a coupon redeemed after the backup is ISSUED again.

`RestoreGuard.check()` sees it (the database's head is behind the last archive's head)
and, once, under the head row's lock: keeps a `message_log_recoveries` row saying from
which record to which the database is behind, drops the live records the archives
already hold, and moves the head to the last archive's head, so the chain continues
after the archives. While that row is open the hub refuses every state-changing request
(`STATE_CHANGING`; reads are served and logged as usual). `hub audit recover` lists the
state-changing requests of the archived records the database lacks; `--apply` re-applies
them in order (hub.services.recovery), then `resolve()` closes the row.

What is detected is bounded by what the archives hold: records made after the last
archive run and lost with the database are the backup's recovery point, not this
module's (docs/deployment.md, section 8).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import BigInteger, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hub.audit.archive import ArchivedLog
from hub.audit.messagelog import GENESIS, REQUEST, MessageLog, MessageLogHead, MessageRecord
from hub.audit.seals import MessageLogSeal, Seal
from hub.clock import Clock
from hub.db.base import Base, BigId, UtcDateTime
from hub.db.database import Database
from hub.errors import ArchiveError

# The operations whose effect a restore can lose; all but SubmitStatement carry a RequestId.
STATE_CHANGING = frozenset(
    {
        "RedeemCoupon",
        "ReverseRedemption",
        "IssueCoupons",
        "CancelCoupon",
        "RegisterPayment",
        "VoidPayment",
        "CloseDay",
        "SubmitStatement",
    }
)
# Requests logged up to this many records before the restored head are looked at too: one
# in flight when the backup was taken has its record in the backup but maybe not its effect.
IN_FLIGHT_RECORDS = 1000
RECHECK_S = 15
RETRY_S = 1  # after a check that failed
log = logging.getLogger("hub.audit")


class MessageLogRecovery(Base):
    __tablename__ = "message_log_recoveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    db_seq: Mapped[int] = mapped_column(BigInteger)  # the restored database's head
    archive_seq: Mapped[int] = mapped_column(BigInteger)  # the archives' head the log now continues from
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(120))


@dataclass(frozen=True)
class Restored:
    """An open recovery: the database was behind its archives from `db_seq` to `archive_seq`."""

    id: int
    detected_at: datetime
    db_seq: int
    archive_seq: int


UNCHECKED = Restored(0, datetime.min, -1, -1)  # held() when the check itself failed
T = TypeVar("T")


@dataclass(frozen=True)
class ArchivedExchange(Generic[T]):
    """A request kept in the archives, what the caller's parser made of it, and its answer."""

    seq: int
    at: datetime
    service: str
    client_id: str
    log_id: str
    request: T
    answer: bytes | None  # None: no answer record in the archives


class RestoreGuard:
    def __init__(self, db: Database, archive: ArchivedLog, clock: Clock, recheck_s: float = RECHECK_S) -> None:
        self.db = db
        self.archive = archive
        self.clock = clock
        self.recheck_s = recheck_s
        self._next_check: float | None = None
        self._held: Restored | None = None

    def held(self) -> Restored | None:
        """The open recovery, if any, checked at most every `recheck_s` seconds (the SOAP path
        asks on every request). A check that fails holds state changes too, until one succeeds."""
        now = time.monotonic()
        if self._next_check is None or now >= self._next_check:
            try:
                self._held = self.check()
                self._next_check = now + self.recheck_s
            except Exception:  # noqa: BLE001 - a check that cannot run must not let changes through unchecked
                log.exception(
                    "cannot tell whether the database is behind its message log archives; state changes are held"
                )
                self._held = UNCHECKED
                self._next_check = now + RETRY_S  # not on every request while the database is down
        return self._held

    def check(self) -> Restored | None:
        """See whether the database is behind its archives; if it just became so, record it and
        move the log's head past the archives. The open recovery, or None."""
        archive_seq, archive_hash = self.archive.last_head()
        with self.db.read() as session:
            head = session.get(MessageLogHead, 1)
            head_seq = head.seq if head else 0
            if head_seq >= archive_seq:
                return _open(session)
        self._check_prefix(head_seq, head.hash if head else GENESIS)
        with self.db.transaction() as session:
            connection = session.connection()
            locked = MessageLog.lock_head(connection)
            if locked.seq >= archive_seq:  # another process got here first
                return _open(session)
            if locked.seq != head_seq:
                raise ArchiveError("the message log moved while its restore was being checked; try again")
            seal = self._last_archived_seal()
            row = MessageLogRecovery(detected_at=self.clock(), db_seq=head_seq, archive_seq=archive_seq)
            session.add(row)
            session.execute(delete(MessageRecord).where(MessageRecord.seq <= archive_seq))
            session.execute(delete(MessageLogSeal).where(MessageLogSeal.seq <= archive_seq))
            session.execute(
                update(MessageLogHead)
                .where(MessageLogHead.id == 1)
                .values(
                    seq=archive_seq,
                    hash=archive_hash,
                    sealed_seq=seal.seq if seal else 0,
                    sealed_at_s=None,
                    seal_digest=seal.digest if seal else GENESIS,
                )
            )
            session.flush()
            return _view(row)

    def _check_prefix(self, head_seq: int, head_hash: str) -> None:
        """The restored log must be a beginning of the archived one: its head record is the archived record there."""
        if head_seq == 0:
            return
        archived = next(self.archive.archived_records(head_seq - 1), None)
        if archived is None or archived["seq"] != head_seq or archived["hash"] != head_hash:
            raise ArchiveError(
                f"the database's message log ends at record {head_seq}, which is not the archived record {head_seq}: "
                "the database and the archives are of different histories; run `hub audit verify`"
            )

    def _last_archived_seal(self) -> Seal | None:
        for manifest in reversed(self.archive.manifests()):
            if manifest.body.get("seals"):
                return Seal.from_json(manifest.body["seals"][-1])
        return None

    def exchanges(self, restored: Restored, parse: Callable[[bytes], T | None]) -> Iterator[ArchivedExchange[T]]:
        """The archived requests `parse` keeps (it returns None for the rest), from shortly before the
        restored head to the archives' head, oldest first, each with its archived answer."""
        kept: dict[str, tuple[dict, T]] = {}
        answers: dict[str, bytes] = {}
        for record in self.archive.archived_records(max(0, restored.db_seq - IN_FLIGHT_RECORDS)):
            if record["seq"] > restored.archive_seq:
                break
            if record["direction"] == REQUEST:
                parsed = parse(record["payload"])
                if parsed is not None:
                    kept[record["log_id"]] = (record, parsed)
            elif record["log_id"] in kept and record["log_id"] not in answers:
                answers[record["log_id"]] = record["payload"]
        for log_id, (r, parsed) in sorted(kept.items(), key=lambda item: item[1][0]["seq"]):
            yield ArchivedExchange(r["seq"], r["at"], r["service"], r["client_id"], log_id, parsed, answers.get(log_id))

    def resolve(self, restored: Restored, by: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(MessageLogRecovery)
                .where(MessageLogRecovery.id == restored.id)
                .values(resolved_at=self.clock(), resolved_by=by)
            )
        self._next_check = None


def _open(session) -> Restored | None:
    row = session.scalars(
        select(MessageLogRecovery).where(MessageLogRecovery.resolved_at.is_(None)).order_by(MessageLogRecovery.id)
    ).first()
    return _view(row) if row else None


def _view(row: MessageLogRecovery) -> Restored:
    return Restored(row.id, row.detected_at, row.db_seq, row.archive_seq)
