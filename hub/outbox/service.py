"""The outbox: enqueue in the domain's transaction, deliver afterwards, exactly
one sender at a time per record, retry what may succeed later.

    enqueue(session, kind, key, payload)  -> PENDING      (in the caller's transaction)
    Outbox.deliver(couriers)              -> SENT         the peer took it
                                          -> REJECTED     the peer refused it (final)
                                          -> PENDING      a transient failure: retried later,
                                                          after 1, 2, 4 ... minutes (capped)
                                          -> FAILED       transient failures attempts_max times

Claiming: a sender takes due records in a short transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, the writer lock on SQLite) and writes a lease on them
(`claimed_by`, `claimed_until`), then delivers outside any transaction, so a
slow peer never holds a database lock. Every other sender skips a record while
its lease runs; a sender that died is replaced when its lease has passed, which
is safe because every peer treats the message's id as idempotent. The outcome is
written only by the sender that still holds the lease.

Couriers (one per kind) deliver a payload and tell what came of it; they know the
peer, this loop knows nothing of it (`hub.outbox.soap` is what SOAP couriers share).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.clock import Clock, utcnow
from hub.db.database import Database
from hub.errors import IdempotencyConflict, InvalidRequest
from hub.outbox.models import FAILED, PENDING, REJECTED, SENT, OutboxRecord

log = logging.getLogger("hub.outbox")

ATTEMPTS_MAX = 8  # then FAILED: 1+2+4+...+64 minutes of retrying, about two hours
BACKOFF_BASE_S = 60
BACKOFF_MAX_S = 3600
LEASE_S = 300  # longer than any courier's timeout
CLAIM_BATCH_COUNT = 20
ERROR_CHARS_MAX = 500


class Transient(Exception):
    """The delivery may succeed later: connection refused, timeout, HTTP 5xx, a Server fault."""


class Refused(Exception):
    """The peer refused the message for good (a Client fault, a REJECTED answer).
    `result` is the peer's answer, when there was one."""

    def __init__(self, reason: str, result: dict | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result or {}


class Courier(Protocol):
    """Delivers one kind of record. `send` talks to the peer (no database);
    `on_sent` and `on_refused` record the outcome in the domain, inside the
    transaction that finishes the record."""

    kind: str

    def send(self, payload: dict) -> dict: ...

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None: ...

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None: ...


@dataclass
class DeliveryRun:
    sent: int = 0
    refused: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.refused + self.retried + self.failed


@dataclass(frozen=True)
class OutboxView:
    id: int
    kind: str
    key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


def enqueue(session: Session, kind: str, key: str, payload: dict[str, Any], now: datetime) -> OutboxRecord:
    """Add a PENDING record in the caller's transaction; the same kind and key
    again returns the first record (with other content it is an IdempotencyConflict)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    existing = session.scalars(
        select(OutboxRecord).where(OutboxRecord.kind == kind, OutboxRecord.key == key)
    ).one_or_none()
    if existing is not None:
        if existing.payload != text:
            raise IdempotencyConflict(f"outbox {kind} {key} exists with other content")
        return existing
    record = OutboxRecord(
        kind=kind, key=key, payload=text, status=PENDING, attempts=0, next_attempt_at=now, created_at=now
    )
    session.add(record)
    session.flush()
    return record


def backoff_s(attempts: int, base_s: int = BACKOFF_BASE_S, max_s: int = BACKOFF_MAX_S) -> int:
    """Seconds to wait after the `attempts`-th failure: base, 2 x base, 4 x base ... at most max_s."""
    return min(base_s * 2 ** min(attempts - 1, 30), max_s)


@dataclass(eq=False)
class Outbox:
    db: Database
    clock: Clock = utcnow
    _: KW_ONLY
    attempts_max: int = ATTEMPTS_MAX
    backoff_base_s: int = BACKOFF_BASE_S
    backoff_max_s: int = BACKOFF_MAX_S
    lease_s: int = LEASE_S

    # -- delivering -------------------------------------------------------

    def deliver(self, couriers: Mapping[str, Courier], *, count_max: int = 1000) -> DeliveryRun:
        """Deliver due records of the couriers' kinds until none is due (or
        `count_max` were tried). Each record is tried at most once per run."""
        run = DeliveryRun()
        sender = str(uuid.uuid4())
        while run.attempted < count_max:
            claimed = self._claim(sender, list(couriers), min(CLAIM_BATCH_COUNT, count_max - run.attempted))
            if not claimed:
                return run
            for record_id, kind, payload in claimed:
                self._deliver_one(sender, record_id, couriers[kind], payload, run)
        return run

    def _claim(self, sender: str, kinds: list[str], count: int) -> list[tuple[int, str, dict]]:
        with self.db.transaction() as session:
            now = self.clock()
            query = (
                select(OutboxRecord)
                .where(
                    OutboxRecord.status == PENDING,
                    OutboxRecord.kind.in_(kinds),
                    OutboxRecord.next_attempt_at <= now,
                    or_(OutboxRecord.claimed_until.is_(None), OutboxRecord.claimed_until <= now),
                )
                .order_by(OutboxRecord.next_attempt_at, OutboxRecord.id)
                .limit(count)
                .with_for_update(skip_locked=True)
            )
            records = session.scalars(query).all()
            for record in records:
                record.claimed_by = sender
                record.claimed_until = now + timedelta(seconds=self.lease_s)
                record.attempts += 1
            return [(r.id, r.kind, json.loads(r.payload)) for r in records]

    def _deliver_one(self, sender: str, record_id: int, courier: Courier, payload: dict, run: DeliveryRun) -> None:
        try:
            result = courier.send(payload)
        except Refused as refusal:
            outcome, counter = partial(self._refused, courier=courier, refusal=refusal), "refused"
        except Transient as failure:
            outcome, counter = partial(self._failed_once, error=str(failure)), None
        except Exception as error:  # noqa: BLE001 - an unforeseen failure is retried, never lost
            log.exception("outbox record %s: delivery failed", record_id)
            outcome, counter = (partial(self._failed_once, error=f"{type(error).__name__}: {error}"), None)
        else:
            outcome, counter = partial(self._sent, courier=courier, result=result), "sent"
        self._finish(sender, record_id, outcome, run, counter)

    def _finish(
        self,
        sender: str,
        record_id: int,
        outcome: Callable[[Session, OutboxRecord], None],
        run: DeliveryRun,
        counter: str | None,
    ) -> None:
        with self.db.transaction() as session:
            record = session.scalars(
                select(OutboxRecord)
                .where(OutboxRecord.id == record_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            if record.claimed_by != sender or record.status != PENDING:
                # Our lease ran out and another sender took over: its outcome counts, not ours.
                run.errors.append(f"outbox record {record_id}: lease lost, outcome left to the other sender")
                return
            outcome(session, record)
            record.claimed_by = None
            record.claimed_until = None
            if counter is None:
                counter = "failed" if record.status == FAILED else "retried"
                run.errors.append(f"{record.kind} {record.key}: {record.last_error}")
            setattr(run, counter, getattr(run, counter) + 1)

    def _sent(self, session: Session, record: OutboxRecord, *, courier: Courier, result: dict) -> None:
        record.status = SENT
        record.result = json.dumps(result, sort_keys=True)
        record.last_error = None
        record.finished_at = self.clock()
        courier.on_sent(session, record, result)

    def _refused(self, session: Session, record: OutboxRecord, *, courier: Courier, refusal: Refused) -> None:
        record.status = REJECTED
        record.result = json.dumps(refusal.result, sort_keys=True)
        record.last_error = refusal.reason[:ERROR_CHARS_MAX]
        record.finished_at = self.clock()
        courier.on_refused(session, record, refusal)

    def _failed_once(self, session: Session, record: OutboxRecord, *, error: str) -> None:
        record.last_error = error[:ERROR_CHARS_MAX]
        if record.attempts >= self.attempts_max:
            record.status = FAILED
            record.finished_at = self.clock()
            return
        record.next_attempt_at = self.clock() + timedelta(
            seconds=backoff_s(record.attempts, self.backoff_base_s, self.backoff_max_s)
        )

    # -- operating --------------------------------------------------------

    def requeue_failed(self, kinds: list[str] | None = None) -> int:
        """FAILED records back to PENDING with a fresh count of attempts (after the
        cause is fixed). Returns how many."""
        with self.db.transaction() as session:
            query = select(OutboxRecord).where(OutboxRecord.status == FAILED).with_for_update()
            if kinds:
                query = query.where(OutboxRecord.kind.in_(kinds))
            records = session.scalars(query).all()
            for record in records:
                record.status, record.attempts, record.finished_at = PENDING, 0, None
                record.next_attempt_at = self.clock()
            return len(records)

    def list(self, *, status: str | None = None, kind: str | None = None) -> list[OutboxView]:
        if status is not None and status not in (PENDING, SENT, FAILED, REJECTED):
            raise InvalidRequest(f"unknown outbox status {status!r}: PENDING, SENT, FAILED or REJECTED")
        with self.db.read() as session:
            query = select(OutboxRecord).order_by(OutboxRecord.id)
            if status:
                query = query.where(OutboxRecord.status == status)
            if kind:
                query = query.where(OutboxRecord.kind == kind)
            return [
                OutboxView(
                    r.id,
                    r.kind,
                    r.key,
                    r.status,
                    r.attempts,
                    r.next_attempt_at,
                    r.last_error,
                    r.created_at,
                    r.finished_at,
                )
                for r in session.scalars(query)
            ]
