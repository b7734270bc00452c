"""Reads' answer records, committed together (hub.services.group_commit): in one
transaction, in the order handed in, within their time, and before the process ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, Table, event, insert, select

from hub.audit import messagelog
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog, MessageRecord
from hub.db.database import DriverStatement
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
    from hub.db.database import Database

    db = Database(db_url)
    try:
        assert records(db) == [(RESPONSE, "last")]
    finally:
        db.dispose()
