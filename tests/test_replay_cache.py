"""The database replay cache: a signature is accepted once, on SQLite and PostgreSQL, and a
replay found inside the SOAP endpoint's transaction leaves that transaction usable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.audit.messagelog import REQUEST, Entry, MessageLog
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
        assert DatabaseReplayCache.remember_in(connection, "sig-1", NOW) is False
        log.append_in(connection, Entry(NOW, REQUEST, "office", "pojazd-1465", "log-1", b"<m/>"))
    assert (log.verify().ok, log.verify().records) == (True, 1)


def test_expired_signatures_are_forgotten(db):
    cache = DatabaseReplayCache(db, clock=lambda: NOW)
    cache.remember("old", NOW - timedelta(seconds=1))
    cache.remember("fresh", NOW + timedelta(seconds=1))
    assert cache.purge() == 1
    assert cache.remember("old", NOW + timedelta(seconds=900)) is True
    assert cache.remember("fresh", NOW + timedelta(seconds=900)) is False
