"""A pooled PostgreSQL connection the server closed while it lay in the pool (as a restart
closes them all) is dropped at checkout and replaced, without a round trip: the next block
of work succeeds on a new connection (hub.db.database._drop_if_closed_by_server). So is one
an exchange kept for the next (hub.db.database._KeptConnections)."""

from __future__ import annotations

from hub.db.database import Database
from tests.support.databases import terminate_backend


def backend_pid(db: Database) -> int:
    with db.writing() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_connection_the_server_closed_in_the_pool_is_replaced_at_checkout(pg_db):
    pid = backend_pid(pg_db)
    terminate_backend(pg_db.engine.url, pid)  # as a restart would, while the connection lies in the pool
    assert backend_pid(pg_db) != pid  # and no error: the dead connection was not handed out


def test_a_live_pooled_connection_is_kept(pg_db):
    """The check drops only what the server closed: a pooled connection that was used and
    read to the end is handed out again, however often."""
    pid = backend_pid(pg_db)
    for _ in range(5):
        with pg_db.writing() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert backend_pid(pg_db) == pid


def exchange_backend_pid(db: Database) -> int:
    with db.exchange(), db.reading() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_connection_kept_for_the_next_exchange_that_the_server_closed_is_replaced(pg_db):
    pid = exchange_backend_pid(pg_db)
    assert exchange_backend_pid(pg_db) == pid  # kept, and used again
    terminate_backend(pg_db.engine.url, pid)  # as a restart would, between two exchanges
    assert exchange_backend_pid(pg_db) != pid  # and no error: the dead connection was not used
    assert pg_db.engine.pool.checkedout() == 1  # the new one, kept; the dead one given back, dropped
