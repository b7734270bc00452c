"""Idempotency by RequestId (contract section 1).

The key is claimed by inserting its row first in the same transaction as the
effect (`INSERT ... ON CONFLICT DO NOTHING`: the transaction stays usable either
way). A second caller with the same RequestId waits on the unique key
(PostgreSQL) or on the database lock (SQLite) until the first commits, finds
no row made, and gets the stored answer. If the first fails, nothing is stored
and the key is free again: a failed request had no effect to repeat.

Each operation's answer is a small frozen dataclass (`RedeemedRecord`...): stored
as JSON in the key's row and read back into the same type, so services get
typed fields, first time or replayed. Its field names are the JSON keys stored
since the first version; renaming one would orphan the answers already stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, String, Table, Text, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.base import Base, UtcDateTime
from hub.db.database import BEFORE_COMMIT, Database, DriverStatement, driver_insert_if_absent, pipelined
from hub.errors import IdempotencyConflict, InvalidRequest

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = dict[str, Any]  # a request's content, as fingerprinted
Answer = TypeVar("Answer", bound="DataclassInstance")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


_KEYS = cast(Table, IdempotencyKey.__table__)
# Built once: these run on every state-changing request, the claim and the answer on the driver (DriverStatement).
_CLAIM = driver_insert_if_absent(_KEYS, "request_id", returning="request_id")
_STORED = select(_KEYS.c.operation, _KEYS.c.request_hash, _KEYS.c.response).where(
    _KEYS.c.request_id == bindparam("request_id")
)
_ANSWER = DriverStatement(
    update(_KEYS).where(_KEYS.c.request_id == bindparam("key")).values(response=bindparam("response"))
)


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
    work: Callable[[Session], Answer],
    now: datetime,
    answer_type: type[Answer],
    first: Callable[[Connection], object] | None = None,
) -> Answer:
    """Run `work` at most once for `request_id`; return its answer, first or stored.
    `first(connection)`, if given, sends the work's first read (`DriverStatement.send`: no
    effect, nothing read yet) right after the key's claim, in the claim's round trip on
    PostgreSQL; `work` reads what it sent. For a request already answered it is sent and
    never read."""
    request_id = canonical_request_id(request_id)
    digest = content_hash(operation, content)
    with db.transaction() as session:
        connection = session.connection()
        row = {"request_id": request_id, "operation": operation, "request_hash": digest}
        with pipelined(connection):
            claimed = _CLAIM[connection.dialect.name].send(connection, {**row, "response": None, "created_at": now})
            if first is not None:
                first(connection)
        if not claimed.driver_rows():
            stored = connection.execute(_STORED, {"request_id": request_id}).one()
            return _replay(
                request_id, stored.operation, stored.request_hash, operation, digest, stored.response, answer_type
            )
        answer = work(session)
        session.flush()  # the work's ORM rows before the key's answer, in this transaction
        stored_answer = {"key": request_id, "response": encode(answer)}

        def send_answer(on: Connection) -> None:
            """Sent with the rest of what waits for the commit (on PostgreSQL in one round trip,
            with the COMMIT when no other hook has a check); the key's row, claimed above, is
            there, and the server's errors are the check."""
            _ANSWER.send(on, stored_answer)

        session.info[BEFORE_COMMIT].add(send_answer)
        return answer


def _replay(
    request_id: str,
    stored_operation: str,
    stored_hash: str,
    operation: str,
    digest: str,
    response: str | None,
    answer_type: type[Answer],
) -> Answer:
    if stored_operation != operation or stored_hash != digest:
        raise IdempotencyConflict(f"RequestId {request_id} was already used for a different {stored_operation} request")
    return decode(answer_type, response or "{}")


def encode(answer: DataclassInstance) -> str:
    """The answer as the key's row keeps it: JSON, times in ISO 8601. Its fields are flat
    (strings, numbers, times, tuples of them), so they are read off as they are: the same
    JSON as `dataclasses.asdict` gave, without its deep copy of each value (a third the CPU)."""
    return json.dumps({name: getattr(answer, name) for name, _ in _fields(type(answer))}, sort_keys=True, default=_iso)


def decode(answer_type: type[Answer], text: str) -> Answer:
    """`encode` undone: each field back to its declared type (datetimes, tuples)."""
    data = json.loads(text)
    values = {}
    for name, kind in _fields(answer_type):
        value = data[name]
        if kind is datetime:
            value = datetime.fromisoformat(value)
        elif typing.get_origin(kind) is tuple:
            value = tuple(value)
        values[name] = value
    return answer_type(**values)


@cache
def _fields(answer_type: type[DataclassInstance]) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(answer_type)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(answer_type))


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not kept in an idempotent answer")
