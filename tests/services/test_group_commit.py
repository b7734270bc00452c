"""Reads' answer records, committed together (hub.services.group_commit): in one
transaction, in the order handed in, within their time, and before the process ends; on
PostgreSQL one at a time with the next request's record (MessageLog.send_claimed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, Table, delete, event, insert, select
from sqlalchemy.exc import IntegrityError

from hub.audit import messagelog
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog, MessageRecord
from hub.db.database import Database, DriverStatement
from hub.db.replay import DatabaseReplayCache
from hub.services.group_commit import GroupCommit
from tests.support import REPO

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def entry(direction: str, log_id: str) -> Entry:
    return Entry(AT, direction, "office", "pojazd-1465", log_id, f"<{direction}/>".encode())


def records(db) -> list[tuple[str, str]]:
    with db.read() as session:
        return [tuple(r) for r in session.execute(select(MessageRecord.direction, MessageRecord.log_id))]


def test_records_handed_in_are_appended_in_one_transaction_in_their_order(db):
    log = MessageLog(db)
    log.append(*(entry(REQUEST, f"r{i}") for i in range(3)))
    group = GroupCommit(log, within_s=3600)
    for i in (2, 0, 1):
        group.add(entry(RESPONSE, f"r{i}"))
    assert records(db) == [(REQUEST, "r0"), (REQUEST, "r1"), (REQUEST, "r2")]
    transactions: list[object] = []

    def began(connection):
        transactions.append(connection)

    event.listen(db.engine, "begin", began)
    group.flush()
    group.flush()  # nothing handed in since: nothing written
    event.remove(db.engine, "begin", began)
    assert len(transactions) == 1
    assert records(db)[3:] == [(RESPONSE, "r2"), (RESPONSE, "r0"), (RESPONSE, "r1")]
    assert log.verify().ok


def test_a_batch_the_database_refuses_is_lost_whole_reported_and_the_next_one_is_appended(db, monkeypatch, caplog):
    """A statement of the batch's transaction refused by the database (here its records'
    insert): none of its records and the head where it was (the chain verifies after the next
    batch), an error line naming each request; the connection rolled back, so the next batch
    goes in."""
    missing = Table("no_such_table", MetaData(), *(Column(c.name, c.type) for c in MessageRecord.__table__.columns))
    refused = DriverStatement(insert(missing))
    log = MessageLog(db)
    log.append(*(entry(REQUEST, f"r{i}") for i in range(3)))
    group = GroupCommit(log, within_s=3600)
    for i in range(3):
        group.add(entry(RESPONSE, f"r{i}"))
    with monkeypatch.context() as patched:
        patched.setattr(messagelog, "_ADD_RECORDS", refused)
        group.flush()
    assert records(db) == [(REQUEST, "r0"), (REQUEST, "r1"), (REQUEST, "r2")]
    assert "the answers to 3 requests went out unlogged: r0, r1, r2" in caplog.text
    for i in range(3, 6):
        group.add(entry(RESPONSE, f"r{i}"))
    group.flush()
    assert records(db)[3:] == [(RESPONSE, "r3"), (RESPONSE, "r4"), (RESPONSE, "r5")]
    report = log.verify()
    assert (report.ok, report.records) == (True, 6), report.problems


def test_the_timer_appends_them_within_their_time(db):
    group = GroupCommit(MessageLog(db), within_s=0.05)
    group.add(entry(RESPONSE, "a"))
    group.add(entry(RESPONSE, "b"))
    deadline = time.monotonic() + 10
    while not records(db) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert records(db) == [(RESPONSE, "a"), (RESPONSE, "b")]


def test_a_process_that_ends_writes_them_before_it_goes(db_url):
    """The timer is not a daemon thread: a worker that exits (gunicorn's graceful stop
    ends in sys.exit) appends what it holds first, here a second after it was handed in."""
    script = textwrap.dedent(
        f"""
        from datetime import UTC, datetime
        from hub.audit.messagelog import Entry, MessageLog
        from hub.db.database import Database
        from hub.services.group_commit import GroupCommit

        group = GroupCommit(MessageLog(Database({db_url!r})), within_s=1.0)
        group.add(Entry(datetime.now(UTC), "OUT", "office", "pojazd-1465", "last", b"<a/>"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    db = Database(db_url)
    try:
        assert records(db) == [(RESPONSE, "last")]
    finally:
        db.dispose()


def _request(log: MessageLog, log_id: str, signature: str):
    """A request's record sent with its signature's claim, as the SOAP endpoint sends it."""
    return log.send_claimed(entry(REQUEST, log_id), DatabaseReplayCache.claim(signature, AT))


def _riding_log(db) -> tuple[MessageLog, GroupCommit]:
    """A message log whose requests take waiting answers along (as `Hub.answer_records` wires
    it), its head row made by a first request, r0."""
    log = MessageLog(db)
    group = GroupCommit(log, within_s=3600)
    log.waiting_answers = group
    assert _request(log, "r0", "sig-0").made() is True
    return log, group


def test_a_waiting_answer_rides_in_the_next_request_s_statement_on_postgresql(pg_db):
    """The answer handed in first goes with the next request's record, before it, in its one
    statement, before any flush; the rest wait for the flush."""
    log, group = _riding_log(pg_db)
    group.add(entry(RESPONSE, "r0"))
    group.add(entry(RESPONSE, "r0-late"))
    assert _request(log, "r1", "sig-1").made() is True
    assert records(pg_db) == [(REQUEST, "r0"), (RESPONSE, "r0"), (REQUEST, "r1")]
    group.flush()
    assert records(pg_db)[3:] == [(RESPONSE, "r0-late")]
    report = log.verify()
    assert (report.ok, report.records) == (True, 4), report.problems


def test_a_replayed_request_still_takes_its_rider_along(pg_db):
    """A request whose signature was seen is refused and not recorded; the answer that rode
    with it is appended all the same, and the chain holds."""
    log, group = _riding_log(pg_db)
    group.add(entry(RESPONSE, "r0"))
    assert _request(log, "replay", "sig-0").made() is False
    assert group.take_one() is None
    assert records(pg_db) == [(REQUEST, "r0"), (RESPONSE, "r0")]
    assert _request(log, "r2", "sig-2").made() is True  # the head moved by the rider alone, as any other
    report = log.verify()
    assert (report.ok, report.records) == (True, 3), report.problems
    group.flush()  # ends its timer, as Hub.close() would: a pending 3600 s timer held pytest at exit for an hour


def test_a_rider_whose_statement_fails_waits_again_for_the_flush(pg_db):
    """The request's statement refused by the database (its record's place taken): neither
    record made, the request refused (the error comes out), and the answer back among those
    waiting, appended by the flush."""
    log, group = _riding_log(pg_db)
    stray = {"seq": 3, "at": AT, "direction": "IN", "service": "x", "client_id": "x", "log_id": "stray"}
    with pg_db.writing() as connection:  # where the request's record would go, after its rider's
        connection.execute(insert(MessageRecord), {**stray, "payload": b"", "prev_hash": "", "hash": ""})
    group.add(entry(RESPONSE, "r0"))
    with pytest.raises(IntegrityError):
        _request(log, "r1", "sig-1").made()
    with pg_db.writing() as connection:
        connection.execute(delete(MessageRecord).where(MessageRecord.log_id == "stray"))
    assert records(pg_db) == [(REQUEST, "r0")]
    group.flush()
    assert records(pg_db) == [(REQUEST, "r0"), (RESPONSE, "r0")]
    report = log.verify()
    assert (report.ok, report.records) == (True, 2), report.problems


def test_on_sqlite_no_answer_rides_with_a_request(tmp_path, sqlite_template):
    """SQLite writes a process's request records in batches of its own (MessageLog.send_claimed):
    the answers wait for the flush."""
    path = tmp_path / "hub.sqlite3"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    try:
        log, group = _riding_log(db)
        group.add(entry(RESPONSE, "r0"))
        assert _request(log, "r1", "sig-1").made() is True
        assert records(db) == [(REQUEST, "r0"), (REQUEST, "r1")]
        group.flush()
        assert records(db)[2:] == [(RESPONSE, "r0")]
    finally:
        db.dispose()
