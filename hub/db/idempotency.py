"""Idempotency by RequestId (contract section 1).

The key is claimed by inserting its row first in the same transaction as the
effect. A second caller with the same RequestId blocks on the unique key
(PostgreSQL) or on the database lock (SQLite) until the first commits, then
gets the stored answer. If the first fails, nothing is stored and the key is
free again: a failed request had no effect to repeat.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.base import Base, UtcDateTime
from hub.db.database import Database
from hub.errors import IdempotencyConflict, InvalidRequest

Record = dict[str, Any]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


def canonical_request_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except (ValueError, TypeError, AttributeError):
        raise InvalidRequest(f"RequestId {text!r} is not a UUID") from None


def content_hash(operation: str, content: Record) -> str:
    blob = json.dumps([operation, content], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def once(
    db: Database,
    request_id: str,
    operation: str,
    content: Record,
    work: Callable[[Session], Record],
    now: datetime,
) -> Record:
    """Run `work` at most once for `request_id`; return its record, first or stored."""
    request_id = canonical_request_id(request_id)
    digest = content_hash(operation, content)
    try:
        with db.transaction() as session:
            stored = session.get(IdempotencyKey, request_id)
            if stored is not None:
                return _replay(stored, operation, digest)
            key = IdempotencyKey(
                request_id=request_id, operation=operation, request_hash=digest, created_at=now
            )
            session.add(key)
            session.flush()  # claims the key now; a concurrent twin waits here
            record = work(session)
            key.response = json.dumps(record, sort_keys=True)
            return record
    except IntegrityError:
        with db.read() as session:
            stored = session.get(IdempotencyKey, request_id)
        if stored is None:  # the conflict was something else
            raise
        return _replay(stored, operation, digest)


def _replay(stored: IdempotencyKey, operation: str, digest: str) -> Record:
    if stored.operation != operation or stored.request_hash != digest:
        raise IdempotencyConflict(
            f"RequestId {stored.request_id} was already used for a different {stored.operation} request"
        )
    return json.loads(stored.response)
