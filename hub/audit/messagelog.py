"""The message log: every SOAP request and response, kept as received and as
sent, in a hash chain (contract section 2).

Record n stores `hash = SHA-256(prev_hash || seq || at || direction || service ||
client || log_id || SHA-256(payload))`. Sequence numbers come from the single
head row, locked for each append, so they have no gaps: `verify()` finds an
altered record (its hash no longer matches), an inserted one (the chain breaks
at it), and a deleted one (a gap in seq, or a head that points past the end).

The chain alone has no key: whoever can write the table can rewrite a record and
rehash every later one, or cut the tail and move the head back. So the head is
sealed (hub.audit.seals): signed with the hub's key every `seal_every_records`
records or `seal_every_s` seconds, from this write path while the head row is
locked anyway, and on demand (`hub audit seal`). The head row remembers the last
seal, so deciding whether one is due costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.base import Base, UtcDateTime
from hub.db.database import AfterCommit, Check, Claim, Database, DriverStatement, Sent, insert_if_absent, pipelined

GENESIS = "0" * 64
# PostgreSQL: up to this many entries are appended by `_APPEND`, one round trip each (an
# exchange's own records); more (reads' answer records, hub.services.group_commit) as on
# SQLite: the head locked, the records' chain hashed here (their contents were hashed when
# the entries were made: `Entry.content`), the records inserted and the head moved in one
# round trip; two for the lot, and the COMMIT.
ON_SERVER_ENTRIES_MAX = 2
REQUEST, RESPONSE = "IN", "OUT"


class MessageLogHead(Base):
    __tablename__ = "message_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # the last seal (hub.audit.seals): what it sealed, when, and its digest, which the next seal names
    sealed_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    sealed_at_s: Mapped[int | None] = mapped_column(
        BigInteger
    )  # Unix seconds: read on every append, so no date parsing
    seal_digest: Mapped[str] = mapped_column(String(64), server_default=text(f"'{GENESIS}'"))


class MessageRecord(Base):
    __tablename__ = "message_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    direction: Mapped[str] = mapped_column(String(3))
    service: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str] = mapped_column(String(80))
    log_id: Mapped[str] = mapped_column(String(36), index=True)  # the request id quoted in faults
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Head(NamedTuple):
    """The head row as locked for an append: the last record's seq and hash, and the last
    seal's seq, time and digest (what hub.audit.seals.Sealer reads). Read raw from the
    driver, which gives these column types as they are on both databases (integers and
    text; the seal time is kept in Unix seconds, so no datetime comes back as text)."""

    seq: int
    hash: str
    sealed_seq: int
    sealed_at_s: int | None
    seal_digest: str


# The statements every SOAP exchange runs, on the driver (DriverStatement).
# The mapped tables (declarative types __table__ as a mere FromClause).
_RECORDS, _HEAD = cast(Table, MessageRecord.__table__), cast(Table, MessageLogHead.__table__)
_ADD_RECORDS = DriverStatement(insert(_RECORDS))
_LOCK_HEAD = DriverStatement(select(*(_HEAD.c[name] for name in Head._fields)).where(_HEAD.c.id == 1).with_for_update())
_MOVE_HEAD = DriverStatement(update(_HEAD).where(_HEAD.c.id == 1))


def record_hash(
    prev_hash: str, seq: int, at: datetime, direction: str, service: str, client_id: str, log_id: str, payload: bytes
) -> str:
    return _chained(prev_hash, seq, _content_part(at, direction, service, client_id, log_id, payload))


def _chained(prev_hash: str, seq: int, content: bytes) -> str:
    """A record's hash: its place in the chain, then what it covers of the record (`content`)."""
    return hashlib.sha256(_chain_part(prev_hash, seq) + content).hexdigest()


def _chain_part(prev_hash: str, seq: int) -> bytes:
    """What a record's hash covers of its place in the chain (PostgreSQL computes the same in `_APPEND`)."""
    return f"{prev_hash}\x1f{seq}\x1f".encode()


def _content_part(at: datetime, direction: str, service: str, client_id: str, log_id: str, payload: bytes) -> bytes:
    """What a record's hash covers of the record itself, each part ended by a unit separator."""
    parts = (at.isoformat(), direction, service, client_id, log_id, hashlib.sha256(payload).hexdigest())
    return ("\x1f".join(parts) + "\x1f").encode()


# PostgreSQL: the hash of the record after `{prev}` (a row with its seq and hash, the head's or
# another new record's) whose `_content_part` is `{content}`: the bytes `record_hash` hashes.
_NEXT_HASH = (
    "encode(sha256(convert_to({prev}.hash || chr(31) || CAST({prev}.seq + 1 AS TEXT) || chr(31), 'UTF8') "
    "|| {content}), 'hex')"
)

# PostgreSQL: an append in one statement, one round trip (three before: lock the head, then
# the record with the head's move). The head row is locked and read (`head`), moved, its new
# hash computed by the server over the bytes `record_hash` hashes (`_chain_part` from the
# locked row, then `_content_part` as :content), and the record made from the moved head.
# Under READ COMMITTED a writer that waited for the lock reads the head as the other left it
# (FOR UPDATE returns the newest row) and the UPDATE moves that row. `{only_if}` narrows
# which head is locked: with a claim (`_claimed_append`), none unless the claim was made.
_APPEND_PARTS = """
head AS (
    SELECT seq, hash, sealed_seq, sealed_at_s, seal_digest FROM message_log_head WHERE id = 1{only_if} FOR UPDATE
), moved AS (
    UPDATE message_log_head
    SET seq = head.seq + 1, hash = {next_hash}
    FROM head
    WHERE message_log_head.id = 1
    RETURNING message_log_head.seq, message_log_head.hash, head.hash AS prev_hash
), added AS (
    INSERT INTO message_log (seq, at, direction, service, client_id, log_id, payload, prev_hash, hash)
    SELECT seq, :at, :direction, :service, :client_id, :log_id, :payload, prev_hash, hash FROM moved
    RETURNING seq, hash
)""".replace("{next_hash}", _NEXT_HASH.format(prev="head", content=":content"))
_APPENDED = "added.seq, added.hash, head.seq, head.hash, head.sealed_seq, head.sealed_at_s, head.seal_digest"
_RECORD_TYPES = (
    bindparam("content", type_=LargeBinary()),
    bindparam("at", type_=_RECORDS.c.at.type),
    bindparam("payload", type_=_RECORDS.c.payload.type),
)
# Returns the new seq and hash, then the head as it was locked (`Head`); no row without a head row.
_APPEND = DriverStatement(
    text(f"WITH {_APPEND_PARTS.format(only_if='')} SELECT {_APPENDED} FROM added, head").bindparams(*_RECORD_TYPES)
)


def _send_appends(connection: Connection, entries: Sequence[Entry]) -> list[Sent]:
    """`_APPEND` an entry, sent (`DriverStatement.send`: in a `pipelined()` block, read after it)."""
    return [_APPEND.send(connection, _append_values(e)) for e in entries]


def _append_values(e: Entry) -> dict[str, object]:
    """An entry's values for `_APPEND`: its fields, and the bytes the server hashes after the head's."""
    return dict(vars(e))


@functools.cache
def _claimed_append(claims: Table, key: str, columns: tuple[str, ...]) -> DriverStatement:
    """`_APPEND`, made only if inserting the claim's row (`claim_<column>` values) into
    `claims` makes it: one statement, so in autocommit both or neither without a BEGIN or a
    COMMIT. A log with no head row yet (a new one) gets neither. Returns one row: whether
    the head row was there, whether the claim was made, then `_APPEND`'s columns (NULL when
    nothing was appended)."""
    parts = _APPEND_PARTS.format(only_if=" AND EXISTS (SELECT 1 FROM claim)")
    return DriverStatement(
        text(
            f"WITH claim AS ({_claim_insert_sql(claims, key, columns)}), {parts} "
            "SELECT EXISTS (SELECT 1 FROM message_log_head WHERE id = 1), EXISTS (SELECT 1 FROM claim), "
            f"{_APPENDED} FROM (SELECT 1) AS one LEFT JOIN added ON true LEFT JOIN head ON true"
        ).bindparams(*_RECORD_TYPES, *_claim_types(claims, columns))
    )


@functools.cache
def _claimed_append_riding(claims: Table, key: str, columns: tuple[str, ...]) -> DriverStatement:
    """`_claimed_append` with another record before the request's, whatever the claim: a read's
    answer record waiting for its group commit (`MessageLog.send_claimed`), its values named
    `rider_<field>`. The head is locked and moved once, to the request's record if the claim
    was made, else to the rider's (`last`); each record's hash is the server's over the one
    before it. Returns one row: whether the claim was made, the request's record's seq and
    hash (NULL when not made), then the head as locked; not whether the log has a head row, as
    `_claimed_append` does, for a rider rides only once this process has seen it."""
    sql = (
        f"WITH claim AS ({_claim_insert_sql(claims, key, columns)}), "
        "head AS (SELECT seq, hash, sealed_seq, sealed_at_s, seal_digest FROM message_log_head WHERE id = 1 "
        "FOR UPDATE), "
        "rider AS (SELECT head.seq + 1 AS seq, head.hash AS prev_hash, "
        f"{_NEXT_HASH.format(prev='head', content=':rider_content')} AS hash FROM head), "
        "request AS (SELECT rider.seq + 1 AS seq, rider.hash AS prev_hash, "
        f"{_NEXT_HASH.format(prev='rider', content=':content')} AS hash FROM rider "
        "WHERE EXISTS (SELECT 1 FROM claim)), "
        "last AS (SELECT seq, hash FROM request "
        "UNION ALL SELECT seq, hash FROM rider WHERE NOT EXISTS (SELECT 1 FROM request)), "
        "moved AS (UPDATE message_log_head SET seq = last.seq, hash = last.hash FROM last "
        "WHERE message_log_head.id = 1 RETURNING 1), "
        "added AS (INSERT INTO message_log (seq, at, direction, service, client_id, log_id, payload, prev_hash, hash) "
        "SELECT seq, :rider_at, :rider_direction, :rider_service, :rider_client_id, :rider_log_id, :rider_payload, "
        "prev_hash, hash FROM rider "
        "UNION ALL SELECT seq, :at, :direction, :service, :client_id, :log_id, :payload, prev_hash, hash FROM request "
        "RETURNING 1) "
        "SELECT EXISTS (SELECT 1 FROM claim), request.seq, request.hash, "
        "head.seq, head.hash, head.sealed_seq, head.sealed_at_s, head.seal_digest FROM head LEFT JOIN request ON true"
    )
    rider_types = (
        bindparam("rider_content", type_=LargeBinary()),
        bindparam("rider_at", type_=_RECORDS.c.at.type),
        bindparam("rider_payload", type_=_RECORDS.c.payload.type),
    )
    return DriverStatement(text(sql).bindparams(*_RECORD_TYPES, *rider_types, *_claim_types(claims, columns)))


def _claim_insert_sql(claims: Table, key: str, columns: tuple[str, ...]) -> str:
    """The claim's insert (`claim_<column>` values), nothing where the log has no head row yet."""
    return (
        f"INSERT INTO {claims.name} ({', '.join(columns)}) SELECT {', '.join(f':claim_{c}' for c in columns)} "
        f"WHERE EXISTS (SELECT 1 FROM message_log_head WHERE id = 1) ON CONFLICT ({key}) DO NOTHING RETURNING 1"
    )


def _claim_types(claims: Table, columns: tuple[str, ...]) -> tuple[BindParameter, ...]:
    return tuple(bindparam(f"claim_{c}", type_=claims.c[c].type) for c in columns)


@dataclass(frozen=True)
class Unanswered:
    """A request in the log with no answer record after it."""

    seq: int
    at: datetime
    service: str
    client_id: str
    log_id: str


@dataclass(frozen=True)
class ChainReport:
    records: int
    problems: tuple[str, ...]
    seals: int = 0
    last_sealed_seq: int = 0
    last_seq: int = 0
    unanswered: tuple[Unanswered, ...] = ()
    stamped: int = 0  # seals with a TSA time-stamp that verifies
    last_stamp_at: datetime | None = None  # the latest genTime of those

    @property
    def unsealed(self) -> int:
        """Records after the last seal, not yet sealed."""
        return self.last_seq - self.last_sealed_seq

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Entry:
    """One record to append; its fields are the record's columns of the same names, and
    `content`, what the record's hash covers of the record itself (`_content_part`): hashed
    when the entry is made, not while an append holds the log's head (every other record
    waits for it meanwhile; a group commit's batch hashed a hundred payloads there)."""

    at: datetime
    direction: str  # REQUEST or RESPONSE
    service: str
    client_id: str
    log_id: str
    payload: bytes
    content: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        content = _content_part(self.at, self.direction, self.service, self.client_id, self.log_id, self.payload)
        object.__setattr__(self, "content", content)

    def columns(self) -> dict[str, object]:
        """The record's columns this entry gives."""
        columns = dict(vars(self))
        del columns["content"]
        return columns


@dataclass(frozen=True)
class SentRecord:
    """A request's record sent with its signature's replay-cache claim (`MessageLog.send_claimed`).
    `made()` tells whether both were made (True), or neither because the claim's key was
    stored already (False); it raises if the log could not be written. `batched` (SQLite):
    the record is written with the records of its process's other exchanges, so a read asks
    once its turn is over (hub.services.endpoint); otherwise (PostgreSQL) it is on its way to
    the server already, and the exchange asks before its connection goes back."""

    made: Callable[[], bool]
    batched: bool


class RecordBatchNotWritten(Exception):
    """The transaction of a batch of request records failed: none of them was made."""


class _RecordBatch:
    """Request records with their claims, sent by a process's exchanges on SQLite, waiting for
    one transaction (`MessageLog.send_claimed`)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Entry, Claim]] = []
        self.made: list[bool] = []  # by the sent's order, once written
        self.written = False  # the transaction is over, committed or not
        self.error: BaseException | None = None  # why it was not committed


class WaitingAnswers(Protocol):
    """Answer records waiting to be appended together (hub.services.group_commit.GroupCommit)."""

    def take_one(self) -> Entry | None: ...

    def add(self, *entries: Entry) -> None: ...


class Sealer(Protocol):
    """Seals the head (hub.audit.seals.Sealer): asked on every append, with the locked head row."""

    def due(self, head: Head, seq: int) -> bool: ...

    def seal_in(self, connection: Connection, head: Head, seq: int, head_hash: str) -> object: ...


# called with each live record verify() walks, in order (ArchivedLog.verify checks seals and answers with it)
RecordWatcher = Callable[["MessageRecord"], None]


log = logging.getLogger("hub.audit")


class MessageLog:
    def __init__(self, db: Database, sealer: Sealer | None = None) -> None:
        self.db = db
        self.sealer = sealer
        # The log's head row has been seen by an append of this process. It is made with the
        # log's first record and never deleted (nothing deletes it; only its migration's
        # downgrade drops the table), so from then on an append always finds it.
        self._head_seen = False
        self._batch: _RecordBatch | None = None  # SQLite: request records sent, not yet written
        self._batch_lock = threading.Lock()
        # PostgreSQL: where a request's record takes a waiting answer record along (`send_claimed`)
        self.waiting_answers: WaitingAnswers | None = None

    def append(self, *entries: Entry) -> int:
        """Append the entries in a transaction of their own, so a request is logged even
        when its business transaction fails. Returns the last sequence number."""
        with self.db.writing() as connection:
            return self.append_in(connection, *entries)

    def append_in(self, on: Connection | Session, *entries: Entry) -> int:
        """Append the entries inside the caller's transaction (the SOAP endpoint logs a
        request together with its replay-cache record). Core statements built once, on a
        Connection: this runs on every SOAP exchange. Returns the last sequence number."""
        return self.send_append(on, *entries)()

    def send_append(self, on: Connection | Session, *entries: Entry) -> Callable[[], int]:
        """`append_in` in two steps, for a `pipelined()` block (hub.db.database.BeforeCommit:
        a SOAP exchange's answer record is the last thing its business work sends before the
        commit): the records sent now; what it returns, called once the block has ended, reads
        what was appended, seals the head if a seal is due, and returns the last sequence
        number. PostgreSQL: `_APPEND` once an entry, the chain's hashes made by the server;
        SQLite (and more entries at once): hashed here and appended at once."""
        connection = on.connection() if isinstance(on, Session) else on
        if connection.dialect.name != "postgresql" or len(entries) > ON_SERVER_ENTRIES_MAX:
            head, seq, prev = self._append_here(connection, entries)
            return lambda: self._sealed_if_due(connection, head, seq, prev)
        sent = _send_appends(connection, entries)

        def appended() -> int:
            rows = [s.driver_rows() for s in sent]
            if not rows[0]:  # no head row yet (a new log), so nothing appended: made, then as any later append
                self.lock_head(connection)
                rows = [_APPEND.execute(connection, _append_values(e)) for e in entries]
            self._head_seen = True
            seq, prev = rows[-1][0][0], rows[-1][0][1]
            return self._sealed_if_due(connection, Head._make(rows[0][0][2:]), seq, prev)

        return appended

    def send_with_work(self, connection: Connection, *entries: Entry) -> Check | AfterCommit:
        """`send_append` as a `BeforeCommit` hook of the work the entries report (a SOAP
        exchange's answer record: hub.services.endpoint), for both to commit or neither. On
        PostgreSQL, once this process has seen the log's head row (`_head_seen`; the
        exchange's request record was appended just before), nothing needs reading before the
        commit: the server's errors are the check, so the COMMIT goes with the records
        (hub.db.database.BeforeCommit), and a seal then due is made after it, in a transaction
        of its own, as after a request's record (`send_claimed`). Otherwise what
        `send_append` returns reads the records before the commit, and seals within it."""
        on_server = connection.dialect.name == "postgresql" and len(entries) <= ON_SERVER_ENTRIES_MAX
        if not (on_server and self._head_seen):
            return self.send_append(connection, *entries)
        sent = _send_appends(connection, entries)

        def sealed_if_due() -> None:
            first, last = sent[0].driver_rows(), sent[-1].driver_rows()
            if not first or not last:
                log.error("records %s were not appended: the message log has no head row", [e.log_id for e in entries])
                return
            try:
                self._sealed_apart_if_due(Head._make(first[0][2:]), last[0][0])
            except Exception:  # noqa: BLE001 - the records are committed; the next due append seals
                log.exception("the message log could not be sealed after record %s", last[0][0])

        return AfterCommit(sealed_if_due)

    def _sealed_if_due(self, connection: Connection, head: Head, seq: int, prev: str) -> int:
        """After an append that moved the locked `head` to record `seq` (hash `prev`)."""
        if self.sealer is not None and self.sealer.due(head, seq):
            self.sealer.seal_in(connection, head, seq, prev)
        return seq

    def send_claimed(self, entry: Entry, claim: Claim) -> SentRecord:
        """Append `entry` only if `claim` is made with it, both or neither (a request with its
        signature's replay-cache row). Returns the record sent (`SentRecord`), whose `made()`
        tells whether they were: True, or False and nothing appended when the claim's key is
        stored already; it raises if the log could not be written.

        PostgreSQL: one statement in autocommit (`_claimed_append`), one round trip where
        BEGIN, the claim, the append and COMMIT took four, sent ahead
        (`DriverStatement.send_ahead`): until the caller asks, it may read on the same
        connection, and its reads join the statement, one round trip for them all, which the
        server runs after the record has committed; asking reads the answer if nothing has,
        and a seal then due follows in a transaction of its own (`seal`). A read's answer
        record waiting for its group commit (`waiting_answers`) rides along in the same
        statement, before the request's record (`_send_claimed_riding`).

        SQLite: the record joins its process's batch (`_RecordBatch`), which the first of the
        batch's exchanges to ask writes (`_write_batch`): each claim, then the records whose
        claims were made, in one write transaction, in the process's turn. Asked inside an
        exchange (a state change, before its work), it first lets in the exchanges waiting for
        the turn (`Database.let_waiting_exchanges_in`), so that their records join its own. A
        read asks once its turn is over (hub.services.endpoint), so that the exchanges that had their
        turns meanwhile have added theirs; one that finds its record written by then does not
        wait for the turn again. Under load one transaction, one write lock and one move of
        the log's head serve about two requests (BENCHMARKS.md, run 27)."""
        if self.db.is_sqlite:
            with self._batch_lock:
                if self._batch is None:
                    self._batch = _RecordBatch()
                batch, index = self._batch, len(self._batch.sent)
                batch.sent.append((entry, claim))

            def made_in_batch() -> bool:
                inside = self.db.in_exchange()  # a state change, in its turn; else a read after its own
                if not batch.written and inside:
                    self.db.let_waiting_exchanges_in()  # their records join the batch
                if not batch.written:
                    with nullcontext() if inside else self.db.exchange():
                        if not batch.written:  # another exchange may have written it meanwhile
                            self._write_batch(batch)
                if batch.error is not None:
                    raise RecordBatchNotWritten(f"the request records of {len(batch.sent)} exchanges") from batch.error
                return batch.made[index]

            return SentRecord(made_in_batch, batched=True)
        values = {**_append_values(entry), **{f"claim_{c}": v for c, v in claim.values.items()}}
        waiting = self.waiting_answers
        if waiting is not None and self._head_seen and (rider := waiting.take_one()) is not None:
            return self._send_claimed_riding(values, claim, rider, waiting)
        statement = _claimed_append(claim.table, claim.key, tuple(claim.values))
        with self.db.autocommitted() as connection:
            sent = statement.send_ahead(connection, values)

        def made() -> bool:
            (row,) = sent.driver_rows()
            if not row[0]:  # a new log: its head row made (as `lock_head` makes it), then as any other
                with self.db.autocommitted() as connection:
                    self.lock_head(connection)
                    (row,) = statement.execute(connection, values)
            self._head_seen = True
            _, made, seq, _, *locked = row
            if not made:
                return False
            self._sealed_apart_if_due(Head._make(locked), seq)
            return True

        return SentRecord(made, batched=False)

    def _write_batch(self, batch: _RecordBatch) -> None:
        """The batch's claims and the records whose claims were made, in one write transaction,
        all or none; records sent from now on start the next batch. In the process's turn."""
        with self._batch_lock:
            if self._batch is batch:
                self._batch = None
        try:
            with self.db.writing() as connection:
                made = [claim.made_in(connection) for _, claim in batch.sent]
                claimed = [entry for (entry, _), was_made in zip(batch.sent, made, strict=True) if was_made]
                if claimed:
                    self.append_in(connection, *claimed)
            batch.made = made
        except BaseException as error:
            batch.error = error
            raise
        finally:
            batch.written = True

    def _send_claimed_riding(
        self, values: dict[str, object], claim: Claim, rider: Entry, waiting: WaitingAnswers
    ) -> SentRecord:
        """`send_claimed` on PostgreSQL with a read's answer record that waited for its group
        commit (`rider`) appended first, in the same statement (`_claimed_append_riding`),
        whether or not the claim is made: no transaction and no hold of the log's head of its
        own. Under load a process's requests and reads' answers come about one for one, and the
        group commit's flush, which held the head while every request's record waited
        (BENCHMARKS.md, run 32), has little left to append. If the statement fails, nothing of
        it was made (one statement, in autocommit) and the rider goes back to wait
        (`waiting.add`), for the flush or the next request; the request is refused as always.
        (A connection lost after the server committed the statement could so log that answer
        twice; it cannot lose it.)"""
        statement = _claimed_append_riding(claim.table, claim.key, tuple(claim.values))
        values.update({f"rider_{name}": value for name, value in _append_values(rider).items()})
        try:
            with self.db.autocommitted() as connection:
                sent = statement.send_ahead(connection, values)
        except BaseException:
            waiting.add(rider)
            raise

        def made() -> bool:
            try:
                (row,) = sent.driver_rows()
            except BaseException:
                waiting.add(rider)
                raise
            made, seq, _, *locked = row
            self._sealed_apart_if_due(Head._make(locked), seq if made else locked[0] + 1)
            return bool(made)

        return SentRecord(made, batched=False)

    def _sealed_apart_if_due(self, head: Head, seq: int) -> None:
        """After records committed on their own that moved `head` (as locked) to record `seq`:
        a seal then due, in a transaction of its own (`seal`)."""
        if self.sealer is not None and self.sealer.due(head, seq):
            self.seal()

    def _append_here(self, connection: Connection, entries: tuple[Entry, ...]) -> tuple[Head, int, str]:
        """The head locked, the records hashed here and inserted, the head moved: the locked
        head, and the last record's seq and hash."""
        head = self.lock_head(connection)
        seq, prev = head.seq, head.hash
        rows = []
        for e in entries:
            seq += 1
            digest = _chained(prev, seq, e.content)
            rows.append({**e.columns(), "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        with pipelined(connection):  # PostgreSQL: the records and the head's move in one round trip
            if len(rows) > 1:
                _ADD_RECORDS.execute_many(connection, rows)
            else:
                _ADD_RECORDS.execute(connection, rows[0])
            _MOVE_HEAD.execute(connection, {"seq": seq, "hash": prev})
        return head, seq, prev

    def seal(self) -> object | None:
        """Seal the head now (`hub audit seal`); None when nothing is new since the last seal."""
        if self.sealer is None:
            raise RuntimeError("this message log has no sealer")
        with self.db.transaction() as session:
            connection = session.connection()
            head = self.lock_head(connection)
            if head.seq == head.sealed_seq:
                return None
            return self.sealer.seal_in(connection, head, head.seq, head.hash)

    def verify(self, after_seq: int = 0, after_hash: str = GENESIS, watch: RecordWatcher | None = None) -> ChainReport:
        """Check the live records. They start at record 1, or, once older records were
        archived (hub.audit.archive), right after the last archive's head: `after_seq`
        and `after_hash`."""
        problems: list[str] = []
        expected_seq, prev = after_seq + 1, after_hash
        count = 0
        with self.db.snapshot() as session:  # the head and the records as of one moment, while others append
            head = session.get(MessageLogHead, 1)
            for r in session.execute(
                select(MessageRecord).order_by(MessageRecord.seq).execution_options(yield_per=1000)
            ).scalars():
                count += 1
                if r.seq < expected_seq:
                    problems.append(f"record {r.seq}: still in the live log although archived up to record {after_seq}")
                elif r.seq != expected_seq:
                    problems.append(f"records {expected_seq}..{r.seq - 1} are missing (deleted)")
                if r.prev_hash != prev:
                    problems.append(
                        f"record {r.seq}: does not follow the record before it "
                        "(inserted, or one before it deleted or altered)"
                    )
                if (
                    record_hash(r.prev_hash, r.seq, r.at, r.direction, r.service, r.client_id, r.log_id, r.payload)
                    != r.hash
                ):
                    problems.append(f"record {r.seq}: content does not match its hash (altered)")
                expected_seq, prev = r.seq + 1, r.hash
                if watch is not None:
                    watch(r)
            head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
            if head_seq != expected_seq - 1 or head_hash != prev:
                problems.append(
                    f"the log ends at record {expected_seq - 1} but its head says {head_seq}: "
                    "records at the end were deleted"
                )
        return ChainReport(count, tuple(problems), last_seq=expected_seq - 1)

    @staticmethod
    def lock_head(connection: Connection) -> Head:
        """The locked head row (seq, hash and the last seal's); made on first use. Processes that find it
        missing at once all insert it if absent: one row is made, the others' inserts wait
        for it and do nothing, and then each locks it like any later append."""
        rows = _LOCK_HEAD.execute(connection)
        if not rows:
            connection.execute(
                insert_if_absent(connection.dialect.name, _HEAD, "id"), {"id": 1, "seq": 0, "hash": GENESIS}
            )
            rows = _LOCK_HEAD.execute(connection)
        return Head._make(rows[0])
