"""A served hub's SQLite WAL is copied back into the database by a thread of its own
(hub.db.database.Database.checkpoint_in_background), not by the commit that crosses
SQLite's threshold while holding the writers' lock; and the WAL stays bounded."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from sqlalchemy import text

from hub.db import database
from hub.db.database import Database
from tests.support.waiting import wait_until


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, body BLOB)"))
    yield db
    db.dispose()


def _write(db: Database, count: int) -> None:
    for _ in range(count):
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO things (body) VALUES (randomblob(3000))"))


def test_commits_leave_the_wal_to_the_checkpointer_which_copies_it_back(sqlite_db):
    sqlite_db.checkpoint_in_background(every_s=0.05)
    with sqlite_db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # not in the commit
    _write(sqlite_db, 400)  # ~800 pages: SQLite's own threshold is 1,000
    checkpointer = sqlite_db._checkpointer
    assert checkpointer is not None and checkpointer.is_alive()

    def copied() -> bool:
        last = checkpointer.last
        return last is not None and last[1] > 0 and last[1] == last[2]  # every frame in the WAL copied

    wait_until(copied, 10, "the checkpointer to copy the WAL back")
    time.sleep(0.2)  # a cycle that may have begun before the last commit ends
    checkpointer.last = None
    time.sleep(0.3)  # six cycles with nothing committed: a look at the WAL file, no checkpoint
    assert checkpointer.last is None
    _write(sqlite_db, 1)
    wait_until(copied, 10, "the checkpointer to copy the new commit back")
    sqlite_db.dispose()
    assert not checkpointer.is_alive()
    with sqlite3.connect(checkpointer.database) as other:  # the rows are in the database, committed
        assert other.execute("SELECT count(*) FROM things").fetchone() == (401,)


def test_a_wal_past_its_bound_is_emptied_with_the_writers_held(sqlite_db, monkeypatch):
    """Frames past WAL_FRAMES_MAX: the checkpointer takes the writers' lock, copies them all and
    has the next writer start the WAL over (RESTART), so it stays bounded however busy the
    writers are: the WAL file grows no further than its first round."""
    monkeypatch.setattr(database, "WAL_FRAMES_MAX", 20)
    held = []
    writers_held = database._writers_held
    monkeypatch.setattr(database, "_writers_held", lambda path: held.append(path) or writers_held(path))
    path = database.make_url(sqlite_db.url).database
    sqlite_db.checkpoint_in_background(every_s=3600)  # run by hand below
    checkpointer = sqlite_db._checkpointer
    assert checkpointer is not None
    _write(sqlite_db, 3)  # under the bound: a PASSIVE checkpoint alone
    checkpointer.checkpoint()
    assert held == []
    _write(sqlite_db, 30)
    checkpointer.checkpoint()
    assert held == [path]
    assert checkpointer.last is not None and checkpointer.last[0] == 0 and checkpointer.last[1] == checkpointer.last[2]
    size = os.path.getsize(f"{path}-wal")
    for _ in range(5):
        _write(sqlite_db, 30)
        checkpointer.checkpoint()
    assert os.path.getsize(f"{path}-wal") < 2 * size  # started over each time: ~6 x size appended to


def test_memory_databases_and_postgresql_have_no_checkpointer(pg_db):
    memory = Database("sqlite://")
    memory.checkpoint_in_background()
    pg_db.checkpoint_in_background()
    assert memory._checkpointer is None and pg_db._checkpointer is None
    memory.dispose()


def test_a_restart_waits_for_a_reader_briefly_then_gives_the_writers_back(sqlite_db, monkeypatch):
    """RESTART must wait for readers still on the WAL, and the writers wait with it: it waits
    RESTART_WAIT_S at most, reports itself busy, and the writers go on."""
    monkeypatch.setattr(database, "WAL_FRAMES_MAX", 20)
    sqlite_db.checkpoint_in_background(every_s=3600)  # run by hand below
    checkpointer = sqlite_db._checkpointer
    assert checkpointer is not None
    _write(sqlite_db, 30)
    reader = sqlite3.connect(checkpointer.database, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM things").fetchone() == (30,)  # a snapshot on the WAL
        _write(sqlite_db, 5)
        started = time.monotonic()
        checkpointer.checkpoint()
        assert time.monotonic() - started < database.RESTART_WAIT_S + 2
        assert checkpointer.last is not None and checkpointer.last[0] == 1  # busy: not started over
        _write(sqlite_db, 1)  # the writers' lock is free again
    finally:
        reader.rollback()
        reader.close()
    checkpointer.checkpoint()
    assert checkpointer.last is not None and checkpointer.last[0] == 0
