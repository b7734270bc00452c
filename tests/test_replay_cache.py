"""The database replay cache: a signature is accepted once, on SQLite and PostgreSQL, and a
replay found inside the SOAP endpoint's transaction leaves that transaction usable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event, insert, select
from sqlalchemy.exc import IntegrityError

from hub.audit.messagelog import REQUEST, Entry, MessageLog, MessageRecord, RecordBatchNotWritten
from hub.db.replay import DatabaseReplayCache, SeenSignature

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_a_signature_is_remembered_once(db):
    cache = DatabaseReplayCache(db, clock=lambda: NOW)
    expires_at = NOW + timedelta(seconds=900)
    assert cache.remember("sig-1", expires_at) is True
    assert cache.remember("sig-1", expires_at + timedelta(seconds=60)) is False
    assert cache.remember("sig-2", expires_at) is True
    with db.read() as session:
        stored = {row.key: row.expires_at for row in session.scalars(select(SeenSignature))}
    assert stored == {"sig-1": expires_at, "sig-2": expires_at}  # the replay changed nothing


def test_a_replay_leaves_the_callers_transaction_usable(db):
    """As in the endpoint: the replay found, the request logged in the same transaction all the same."""
    log = MessageLog(db)
    DatabaseReplayCache(db).remember("sig-1", NOW)
    with db.writing() as connection:
        assert DatabaseReplayCache.claim("sig-1", NOW).made_in(connection) is False
        log.append_in(connection, Entry(NOW, REQUEST, "office", "pojazd-1465", "log-1", b"<m/>"))
    assert (log.verify().ok, log.verify().records) == (True, 1)


def test_expired_signatures_are_forgotten(db):
    cache = DatabaseReplayCache(db, clock=lambda: NOW)
    cache.remember("old", NOW - timedelta(seconds=1))
    cache.remember("fresh", NOW + timedelta(seconds=1))
    assert cache.purge() == 1
    assert cache.remember("old", NOW + timedelta(seconds=900)) is True
    assert cache.remember("fresh", NOW + timedelta(seconds=900)) is False


def _entry(log_id: str) -> Entry:
    return Entry(NOW, REQUEST, "office", "pojazd-1465", log_id, b"<m/>")


def test_a_request_is_logged_with_its_signature_s_claim_both_or_neither(db):
    """MessageLog.send_claimed, as the endpoint logs a request: the first time a signature is
    seen the request is appended (on an empty log too: the first request makes the head row);
    a replay appends nothing; an append that fails leaves the signature unclaimed."""
    log = MessageLog(db)

    def failing_append(seq: int, signature: str) -> None:
        """Record `seq`'s place taken by a stray row, so that its append fails; then freed."""
        stray = {"seq": seq, "at": NOW, "direction": "IN", "service": "x", "client_id": "x", "log_id": "stray"}
        with db.writing() as connection:
            connection.execute(insert(MessageRecord), {**stray, "payload": b"", "prev_hash": "", "hash": ""})
        with pytest.raises(IntegrityError):
            log.send_claimed(_entry("failed"), DatabaseReplayCache.claim(signature, NOW)).made()
        with db.writing() as connection:
            connection.execute(delete(MessageRecord).where(MessageRecord.log_id == "stray"))

    failing_append(1, "sig-1")  # on the empty log, which has no head row yet
    assert log.send_claimed(_entry("log-1"), DatabaseReplayCache.claim("sig-1", NOW)).made() is True
    assert log.send_claimed(_entry("log-2"), DatabaseReplayCache.claim("sig-1", NOW)).made() is False
    failing_append(2, "sig-3")
    assert log.send_claimed(_entry("log-3"), DatabaseReplayCache.claim("sig-3", NOW)).made() is True
    report = log.verify()
    assert (report.ok, report.records) == (True, 2)
    with db.read() as session:
        assert sorted(session.scalars(select(SeenSignature.key))) == ["sig-1", "sig-3"]
        assert list(session.scalars(select(MessageRecord.log_id).order_by(MessageRecord.seq))) == ["log-1", "log-3"]


def _sent(log: MessageLog, log_id: str, signature: str):
    return log.send_claimed(_entry(log_id), DatabaseReplayCache.claim(signature, NOW))


def test_request_records_sent_before_one_is_asked_for_are_written_together_on_sqlite(db):
    """On SQLite the records sent by a process's exchanges wait for the first of them to ask,
    then are written in one transaction: each claim in the order sent (a replay within the
    batch is found as any other), then the records whose claims were made; the others find
    theirs written when they ask. On PostgreSQL each is a statement of its own, the verdicts the same."""
    log = MessageLog(db)
    began: list[object] = []
    event.listen(db.engine, "begin", began.append)
    first, replay, second = _sent(log, "log-1", "sig-1"), _sent(log, "log-2", "sig-1"), _sent(log, "log-3", "sig-3")
    assert {first.batched, replay.batched, second.batched} == {db.is_sqlite}
    began.clear()
    assert first.made() is True
    assert (replay.made(), second.made()) == (False, True)
    if db.is_sqlite:
        assert len(began) == 1  # the three in one transaction, made when the first asked
    with db.read() as session:
        assert list(session.scalars(select(MessageRecord.log_id).order_by(MessageRecord.seq))) == ["log-1", "log-3"]
        assert sorted(session.scalars(select(SeenSignature.key))) == ["sig-1", "sig-3"]
    assert log.verify().ok


def test_on_sqlite_a_batch_of_request_records_that_cannot_be_written_makes_none_and_tells_each(db):
    """Every exchange whose record was in the batch is told (the one that wrote it its error,
    the others that their batch was not written): none is served unlogged, no signature stays
    claimed, and the same requests are logged once the log can be written again."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL writes each request's record on its own")
    log = MessageLog(db)
    assert _sent(log, "log-1", "sig-1").made()
    stray = {"seq": 2, "at": NOW, "direction": "IN", "service": "x", "client_id": "x", "log_id": "stray"}
    with db.writing() as connection:  # record 2's place taken, so that the batch's append fails
        connection.execute(insert(MessageRecord), {**stray, "payload": b"", "prev_hash": "", "hash": ""})
    failing, with_it = _sent(log, "log-2", "sig-2"), _sent(log, "log-3", "sig-3")
    with pytest.raises(IntegrityError):
        failing.made()
    with pytest.raises(RecordBatchNotWritten) as told:
        with_it.made()
    assert isinstance(told.value.__cause__, IntegrityError)
    with db.writing() as connection:
        connection.execute(delete(MessageRecord).where(MessageRecord.log_id == "stray"))
    with db.read() as session:
        assert list(session.scalars(select(SeenSignature.key))) == ["sig-1"]
    assert (_sent(log, "log-2", "sig-2").made(), _sent(log, "log-3", "sig-3").made()) == (True, True)
    report = log.verify()
    assert (report.ok, report.records) == (True, 3)


def test_on_postgresql_a_request_s_record_is_one_statement_with_no_transaction_around_it(pg_db, tmp_path):
    """One round trip: the claim and the append in one statement, in autocommit, no BEGIN or
    COMMIT (four round trips before). Read from libpq's trace of what the exchange's connection sent."""
    log = MessageLog(pg_db)
    log.send_claimed(_entry("log-0"), DatabaseReplayCache.claim("sig-0", NOW)).made()  # the head row made
    trace = tmp_path / "libpq.trace"
    with pg_db.exchange():
        with pg_db.reading() as connection:  # the exchange's connection, checked out
            raw = connection.connection.driver_connection
        with trace.open("w") as out:
            raw.pgconn.trace(out.fileno())
            try:
                assert log.send_claimed(_entry("log-1"), DatabaseReplayCache.claim("sig-1", NOW)).made() is True
                assert raw.info.transaction_status == 0  # idle: nothing left open
            finally:
                raw.pgconn.untrace()
    lines = [line.split("\t") for line in trace.read_text().splitlines()]
    sent = [parts[3].split(" ", 1)[0] for parts in lines if len(parts) > 3 and parts[1] == "F"]  # frontend messages
    # one Execute and one Sync: one statement, one round trip; a BEGIN or a COMMIT would add a
    # simple Query (or an Execute of its own)
    assert (sent.count("Execute"), sent.count("Sync"), sent.count("Query")) == (1, 1, 0), sent
    assert log.verify().records == 2


def test_a_seal_due_after_a_claimed_append_is_made(db):
    """On PostgreSQL the append commits on its own and a seal then due follows in a transaction
    of its own; on SQLite it is made in the append's transaction. Either way it is there."""
    from hub.audit.seals import MessageLogSeal, Sealer
    from tests.support.ops import hub_identity

    log = MessageLog(db, Sealer(hub_identity(), lambda: NOW, every_records=2, every_s=3600))
    for i in range(3):
        assert log.send_claimed(_entry(f"log-{i}"), DatabaseReplayCache.claim(f"sig-{i}", NOW)).made()
    with db.read() as session:
        assert list(session.scalars(select(MessageLogSeal.seq).order_by(MessageLogSeal.seq))) == [1, 3]
    assert log.verify().ok
