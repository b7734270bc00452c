"""The message log's hash chain finds altered, inserted and deleted records."""

from __future__ import annotations

import base64
import os
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, event, insert, update
from sqlalchemy.exc import OperationalError

from hub.audit import messagelog
from hub.audit.messagelog import (
    GENESIS,
    REQUEST,
    RESPONSE,
    Entry,
    Head,
    MessageLog,
    MessageLogHead,
    MessageRecord,
    record_hash,
)
from hub.db.database import Database
from tests.support.databases import terminate_backend


def filled_log(db, n=6) -> MessageLog:
    log = MessageLog(db)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    for i in range(n):
        log.append(
            Entry(
                at, REQUEST if i % 2 == 0 else RESPONSE, "office", "pojazd-1465", f"log-{i // 2}", f"<m{i}/>".encode()
            )
        )
    return log


def test_an_intact_chain_verifies(db):
    report = filled_log(db).verify()
    assert (report.ok, report.records) == (True, 6)


def test_an_altered_record_is_named(db):
    log = filled_log(db)
    with db.transaction() as s:
        s.execute(update(MessageRecord).where(MessageRecord.seq == 3).values(payload=b"<forged/>"))
    assert log.verify().problems == ("record 3: content does not match its hash (altered)",)


def test_a_deleted_record_is_found(db):
    log = filled_log(db)
    with db.transaction() as s:
        s.execute(delete(MessageRecord).where(MessageRecord.seq == 4))
    problems = log.verify().problems
    assert "records 4..4 are missing (deleted)" in problems


def test_a_deleted_tail_is_found(db):
    log = filled_log(db)
    with db.transaction() as s:
        s.execute(delete(MessageRecord).where(MessageRecord.seq == 6))
    assert any("records at the end were deleted" in p for p in log.verify().problems)


def test_an_inserted_record_is_found(db):
    log = filled_log(db)
    with db.transaction() as s:
        row = s.get(MessageRecord, 2)
        fields = {c.name: getattr(row, c.name) for c in MessageRecord.__table__.columns}
        s.execute(update(MessageRecord).where(MessageRecord.seq > 2).values(seq=MessageRecord.seq + 100))
        s.execute(insert(MessageRecord).values({**fields, "seq": 3, "payload": b"<inserted/>"}))
    assert not log.verify().ok


def test_an_exchange_is_appended_in_order_in_one_go(db):
    log = filled_log(db, 2)
    at = datetime(2026, 3, 10, 9, 1, tzinfo=UTC)
    last = log.append(
        Entry(at, REQUEST, "office", "c", "log-9", b"<in/>"), Entry(at, RESPONSE, "office", "c", "log-9", b"<out/>")
    )
    assert last == 4
    with db.read() as s:
        assert [(r.seq, r.direction) for r in s.query(MessageRecord).order_by(MessageRecord.seq)][2:] == [
            (3, REQUEST),
            (4, RESPONSE),
        ]
    assert log.verify().ok


def test_processes_appending_to_an_empty_log_at_once_all_succeed(db):
    """Each writer finds the head row missing; one makes it, the others wait for it and
    then take their turn. (Found by the soak: the losers' transactions were aborted.)"""
    log = MessageLog(db)
    writers = 6
    # on PostgreSQL every writer is inside its transaction before any looks for the head;
    # SQLite lets one writer in at a time by design
    together = threading.Barrier(writers) if db.engine.dialect.name == "postgresql" else None
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    failures = []

    def append(i: int) -> None:
        try:
            with db.transaction() as session:
                session.connection()
                if together:
                    together.wait(timeout=30)
                log.append_in(session, Entry(at, REQUEST, "office", "pojazd-1465", f"log-{i}", f"<m{i}/>".encode()))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            failures.append(e)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    report = log.verify()
    assert (report.ok, report.records) == (True, writers)


def test_the_locked_head_has_its_columns_types_on_both_databases(db):
    log = filled_log(db, n=2)
    with db.writing() as connection:
        head = log.lock_head(connection)
    assert head == Head(2, head.hash, 0, None, GENESIS)
    assert [type(v) for v in head] == [int, str, int, type(None), str]
    sealed = 1_764_840_000
    with db.transaction() as s:
        s.execute(update(MessageLogHead).values(sealed_seq=2, sealed_at_s=sealed))
    with db.writing() as connection:
        assert log.lock_head(connection)[2:4] == (2, sealed)


def test_a_connection_lost_mid_append_fails_cleanly_and_the_pool_recovers(pg_db):
    log = filled_log(pg_db, n=2)
    at = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    with pytest.raises(OperationalError) as lost, pg_db.writing() as connection:
        terminate_backend(pg_db.engine.url, backend_pid(connection))
        log.append_in(connection, Entry(at, REQUEST, "office", "pojazd-1465", "log-lost", b"<lost/>"))
    assert lost.value.connection_invalidated
    assert log.append(Entry(at, REQUEST, "office", "pojazd-1465", "log-after", b"<after/>")) == 3
    assert (log.verify().ok, log.verify().records) == (True, 3)


def test_a_connection_lost_between_the_records_of_one_append_leaves_neither(pg_db, monkeypatch):
    """On PostgreSQL each record is one statement (`_APPEND`): a server gone after the first
    of an exchange's two records is a clean failure, and neither record stays."""
    log = filled_log(pg_db, n=2)
    at = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    real = messagelog._APPEND

    class LoseAfterTheRecord:
        @staticmethod
        def send(connection, values):
            sent = real.send(connection, values)  # not in a pipeline: run, its rows fetched
            terminate_backend(pg_db.engine.url, backend_pid(connection))
            return sent

    with monkeypatch.context() as patched, pytest.raises(OperationalError) as lost:
        patched.setattr(messagelog, "_APPEND", LoseAfterTheRecord())
        log.append(
            Entry(at, REQUEST, "office", "pojazd-1465", "log-lost", b"<lost/>"),
            Entry(at, RESPONSE, "office", "pojazd-1465", "log-lost", b"<lost-answer/>"),
        )
    assert lost.value.connection_invalidated
    assert log.append(Entry(at, REQUEST, "office", "pojazd-1465", "log-after", b"<after/>")) == 3
    assert (log.verify().ok, log.verify().records) == (True, 3)


def test_a_record_s_hash_is_the_one_earlier_versions_wrote():
    """The bytes a record's hash covers never change: a log written by an earlier version
    still verifies (this digest was computed by the code of `b0b8b33`)."""
    at = datetime(2026, 3, 10, 9, 30, 0, 123000, tzinfo=UTC)
    log_id = "6f1c2a9e-1b2c-4d5e-8f90-1234567890ab"
    assert record_hash("0" * 64, 7, at, REQUEST, "office", "pojazd-1465", log_id, b"<Envelope/>") == (
        "b653463576fb509ed45626bad67e4b16a512afcf00dbc4a9ce7296b4b3f43d76"
    )


def test_postgresql_hashes_a_record_as_record_hash_does(pg_db):
    """`_APPEND` has the server hash each record: the stored hash is record_hash's, byte for
    byte, also for text outside ASCII and the head as the first append finds it."""
    log = MessageLog(pg_db)
    at = datetime(2026, 3, 10, 9, 5, 7, 123456, tzinfo=UTC)
    log.append(Entry(at, REQUEST, "kasa", "wydział-ż", "log-ą", "<zażółć/>".encode()))
    log.append(Entry(at, RESPONSE, "kasa", "wydział-ż", "log-ą", b"\x00\xff"))
    with pg_db.read() as s:
        records = s.query(MessageRecord).order_by(MessageRecord.seq).all()
    assert [r.hash for r in records] == [
        record_hash(r.prev_hash, r.seq, r.at, r.direction, r.service, r.client_id, r.log_id, r.payload) for r in records
    ]
    assert records[0].prev_hash == GENESIS and records[1].prev_hash == records[0].hash


def backend_pid(connection) -> int:
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_chain_appended_to_while_it_is_verified_verifies(db_url):
    """verify() reads the head and the records as of one moment: a record committed by
    another process between the two reads (a hub serving while `hub audit verify` runs)
    is not taken for a deleted tail. PostgreSQL's READ COMMITTED would show each read a
    newer snapshot."""
    reader, writer = Database(db_url), Database(db_url)
    log = filled_log(reader, 4)
    appended = []

    def append_after_the_head_is_read(conn, cursor, statement, parameters, context, executemany):
        if not appended and "message_log_head" in statement and "message_log " not in statement:
            appended.append(
                MessageLog(writer).append(Entry(datetime.now(UTC), REQUEST, "office", "c", "late", b"<x/>"))
            )

    event.listen(reader.engine, "after_cursor_execute", append_after_the_head_is_read)
    try:
        report = log.verify()
    finally:
        event.remove(reader.engine, "after_cursor_execute", append_after_the_head_is_read)
        reader.dispose()
        writer.dispose()
    assert appended == [5]
    assert report.ok, report.problems
    assert report.records == 4


def test_a_signed_message_stays_in_its_row_on_postgresql(pg_db):
    """A record of a signed message's size (3-5 KB) is kept in its row, its payload
    compressed there, lz4 where the server has it (migration 0014). Before, PostgreSQL moved
    the payload, or where it would not compress the record's two hashes, out of line to the
    TOAST table: more inserts and index entries per record."""
    signed_part = (
        b"<ds:Reference URI='#Body-1'><ds:DigestValue>" + base64.b64encode(os.urandom(32)) + b"</ds:DigestValue>"
    )
    payloads = [
        b"<soap:Envelope>" + base64.b64encode(os.urandom(3000)) + b"</soap:Envelope>",  # 4 KB, hardly compressible
        b"<soap:Envelope>" + signed_part * 50 + b"</soap:Envelope>",  # 5 KB of XML
    ]
    log = MessageLog(pg_db)
    for n, payload in enumerate(payloads):
        at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
        log.append(Entry(at, REQUEST, "office", "pojazd-1465", f"log-{n}", payload))
    with pg_db.engine.connect() as connection:
        (toast_table,) = connection.exec_driver_sql(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'message_log'"
        ).one()
        out_of_line = connection.exec_driver_sql(f"SELECT count(*) FROM {toast_table}").scalar_one()  # chunks
        stored = connection.exec_driver_sql("SELECT pg_column_size(payload) FROM message_log ORDER BY seq").scalars()
        columns = dict(
            connection.exec_driver_sql(
                "SELECT attname, attstorage::text || attcompression::text FROM pg_attribute "
                "WHERE attrelid = 'message_log'::regclass AND attnum > 0 AND attlen = -1"
            ).all()
        )
        methods = connection.exec_driver_sql(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar_one()
    assert out_of_line == 0
    assert list(stored)[1] < len(payloads[1]) / 2  # compressed in the row
    lz4 = "l" if "lz4" in methods else ""
    assert columns == {
        "direction": "m",
        "service": "m",
        "client_id": "m",
        "log_id": "m",
        "payload": "m" + lz4,
        "prev_hash": "m",
        "hash": "m",
    }
    assert log.verify().ok


def test_a_batch_hashes_its_contents_before_it_locks_the_head(db, monkeypatch):
    """An entry's content (what its hash covers of the record itself, a SHA-256 of its
    payload among it) is hashed when the entry is made: an append, which holds the log's
    head and so every other record, hashes only the chain."""
    log = filled_log(db, n=1)
    at = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    batch = [Entry(at, RESPONSE, "office", "pojazd-1465", f"log-{i}", os.urandom(5000)) for i in range(40)]
    with monkeypatch.context() as patched:
        patched.setattr(messagelog, "_content_part", _not_while_appending)
        assert log.append(*batch) == 41
    report = log.verify()
    assert (report.ok, report.records) == (True, 41), report.problems


def _not_while_appending(*_args):
    raise AssertionError("a record's content hashed while the head is locked")


def test_on_postgresql_a_batch_is_the_head_s_lock_then_its_records_with_the_head_s_move(pg_db, tmp_path):
    """A group commit's batch (more entries than `_APPEND` takes one by one): one round trip
    locks the head, one sends the records and moves the head, and the COMMIT."""
    log = filled_log(pg_db, n=1)  # the head row made
    at = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    batch = [Entry(at, RESPONSE, "office", "pojazd-1465", f"log-{i}", b"<answer/>") for i in range(5)]
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:

        def traced(dbapi_connection, _record):
            dbapi_connection.pgconn.trace(out.fileno())

        pg_db.dispose()  # the pooled connection: made anew, traced
        event.listen(pg_db.engine, "connect", traced)
        try:
            assert log.append(*batch) == 6
        finally:
            event.remove(pg_db.engine, "connect", traced)
            pg_db.dispose()
    sent = [line.split("\t")[3] for line in trace.read_text().splitlines() if line.split("\t")[1:2] == ["F"]]
    trips = " ".join(sent).replace("Sync", "Sync|").replace("Query", "Query|").split("|")
    executed = [(trip.split().count("Execute"), trip.split()[-1]) for trip in trips if trip.split() != ["Terminate"]]
    # BEGIN with the head's lock; the 5 records and the head's move; psycopg's COMMIT
    assert executed == [(2, "Sync"), (6, "Sync"), (0, "Query")], trips
    assert log.verify().ok
