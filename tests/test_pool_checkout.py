"""A pooled PostgreSQL connection the server closed while it lay in the pool (as a restart
closes them all) is dropped at checkout and replaced, without a round trip: the next block
of work succeeds on a new connection (hub.db.database._drop_if_closed_by_server)."""

from __future__ import annotations

import time

from sqlalchemy import create_engine

from hub.db.database import Database


def backend_pid(db: Database) -> int:
    with db.writing() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def terminate(db: Database, pid: int) -> None:
    """The server ends that session, as `pg_ctl restart` ends them all; asked on a connection
    of another engine, so the hub's pool is not touched, and waited for until it is gone."""
    other = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with other.connect() as c:
            c.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            deadline = time.monotonic() + 5
            while c.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} did not end"
                time.sleep(0.02)
    finally:
        other.dispose()


def test_a_connection_the_server_closed_in_the_pool_is_replaced_at_checkout(pg_db):
    pid = backend_pid(pg_db)
    terminate(pg_db, pid)
    assert backend_pid(pg_db) != pid  # and no error: the dead connection was not handed out


def test_a_live_pooled_connection_is_kept(pg_db):
    """The check drops only what the server closed: a pooled connection that was used and
    read to the end is handed out again, however often."""
    pid = backend_pid(pg_db)
    for _ in range(5):
        with pg_db.writing() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert backend_pid(pg_db) == pid
