"""hub.db.libpq: the driver statements on PostgreSQL, sent through libpq rather than psycopg's
cursors. Their rows must hold what a psycopg cursor's hold, a statement used again must be
prepared once and then only bound, what someone else does to the connection's prepared
statements must cost one statement at most, and an error in a pipeline must be the server's
own, with the connection usable afterwards."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError, ProgrammingError

from hub.db import libpq
from hub.db.database import Database, DriverStatement, pipelined

_META = MetaData()
_ITEMS = Table(
    "libpq_items",
    _META,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("payload", LargeBinary(), nullable=True),
)
_ADD = DriverStatement(insert(_ITEMS))
_NAMES = DriverStatement(select(_ITEMS.c.name).where(_ITEMS.c.id >= 0).order_by(_ITEMS.c.id))


@pytest.fixture
def items(pg_db: Database) -> Iterator[Database]:
    _META.create_all(pg_db.engine)
    yield pg_db
    _META.drop_all(pg_db.engine)


def test_placeholders_are_numbered_once_a_name_and_percent_signs_kept() -> None:
    sql, keys, formats = libpq._numbered("SELECT %(a)s, %(b)b, %(a)s, '5%%', %(c)t")
    assert sql == b"SELECT $1, $2, $1, '5%', $3"
    assert keys == ("a", "b", "c")
    assert formats == (psycopg.adapt.PyFormat.AUTO, psycopg.adapt.PyFormat.BINARY, psycopg.adapt.PyFormat.TEXT)
    assert libpq._numbered("SELECT %s, %s") == (b"SELECT $1, $2", (0, 1), (psycopg.adapt.PyFormat.AUTO,) * 2)


def test_rows_hold_what_a_psycopg_cursor_gives(items: Database) -> None:
    """The same dumpers and loaders: times with their zone, bytes, decimals, booleans, NULLs, arrays."""
    at = datetime(2026, 12, 5, 21, 30, 1, 123456, tzinfo=UTC)
    sql = "SELECT %(at)s::timestamptz, %(raw)s::bytea, %(amount)s::numeric, %(yes)s, %(none)s::text, %(many)b"
    values = {"at": at, "raw": b"\x00\xff", "amount": Decimal("161.50"), "yes": True, "none": None, "many": [1, 2]}
    with items.engine.connect() as connection:
        driver = connection.connection.driver_connection
        state = libpq.connection(driver, connection.connection.info)
        with state.pipeline():
            sent = state.send(sql, values)
        ours = sent.rows()
        theirs = driver.cursor().execute(sql, values, binary=False).fetchall()
        connection.rollback()
    assert ours == theirs == [(at, b"\x00\xff", Decimal("161.50"), True, None, [1, 2])]


def _prepared_here(driver: psycopg.Connection) -> set[str]:
    with driver.cursor() as cursor:  # psycopg's own cursor: none of the module's statements
        return {name for (name,) in cursor.execute("SELECT name FROM pg_prepared_statements").fetchall()}


def test_a_statement_is_prepared_at_its_second_use_and_then_only_bound(items: Database) -> None:
    with items.engine.begin() as connection:
        driver = connection.connection.driver_connection
        _ADD.execute(connection, {"id": 1, "name": "one", "payload": None})
        assert _prepared_here(driver) == set()
        _ADD.execute(connection, {"id": 2, "name": "two", "payload": None})
        (name,) = _prepared_here(driver)
        assert name.startswith("hub_")
        _ADD.execute(connection, {"id": 3, "name": "three", "payload": None})
        assert _prepared_here(driver) == {name}
        assert [r.name for r in _NAMES.rows(connection)] == ["one", "two", "three"]


def test_a_rollback_keeps_the_statements_prepared(items: Database) -> None:
    """psycopg would drop every prepared statement of a connection at a rollback (DEALLOCATE
    ALL) if it had prepared any of its own: the hub's engine tells it to prepare none."""
    with items.engine.connect() as connection:
        driver = connection.connection.driver_connection
        connection.begin()
        for i in (1, 2):
            _ADD.execute(connection, {"id": i, "name": f"n{i}", "payload": None})
        for _ in range(6):  # more than psycopg's threshold, were it preparing
            connection.execute(select(_ITEMS.c.id))
        before = _prepared_here(driver)
        connection.rollback()
        assert before and _prepared_here(driver) == before


def test_statements_deallocated_by_someone_else_cost_one_statement_and_are_prepared_anew(items: Database) -> None:
    with items.engine.connect() as connection:
        driver = connection.connection.driver_connection
        connection.begin()
        for _ in range(2):
            assert _NAMES.execute(connection) == []
        connection.commit()
        driver.execute("DEALLOCATE ALL")  # a DISCARD ALL does the same
        connection.begin()
        with pytest.raises(ProgrammingError, match="does not exist"):
            _NAMES.execute(connection)
        connection.rollback()
        connection.begin()
        _ADD.execute(connection, {"id": 1, "name": "again", "payload": b"\x01"})
        assert [r.name for r in _NAMES.rows(connection)] == ["again"]
        connection.commit()


def test_in_a_pipeline_the_server_s_own_error_comes_out_and_the_connection_stays_usable(items: Database) -> None:
    with items.engine.connect() as connection:
        connection.begin()
        for i in (1, 2):
            _ADD.execute(connection, {"id": i, "name": f"n{i}", "payload": None})
        connection.commit()
        connection.begin()
        with pytest.raises(IntegrityError, match="libpq_items_pkey"):
            with pipelined(connection):
                sent = _NAMES.send(connection)
                _ADD.send(connection, {"id": 1, "name": "twice", "payload": None})  # its key is taken
                after = _NAMES.send(connection)
        assert [r.name for r in sent.rows()] == ["n1", "n2"]  # answered before the error
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            after.rows()  # skipped: the server runs nothing after an error up to the Sync
        connection.rollback()
        connection.begin()
        with pytest.raises(ZeroDivisionError):
            with pipelined(connection):
                _ADD.send(connection, {"id": 3, "name": "n3", "payload": None})
                raise ZeroDivisionError  # the block's own failure: its statements' answers read all the same
        connection.rollback()
        connection.begin()
        assert [r.name for r in _NAMES.rows(connection)] == ["n1", "n2"]


def test_a_pipeline_of_many_statements_larger_than_the_socket_s_buffer_is_sent_whole(items: Database) -> None:
    """While libpq cannot send more, the server's answers are taken in (`_flushed`)."""
    payload = bytes(range(256)) * 4096  # 1 MB a row
    with items.engine.begin() as connection:
        with pipelined(connection):
            for i in range(16):
                _ADD.send(connection, {"id": i, "name": f"n{i}", "payload": payload})
        assert len(_NAMES.rows(connection)) == 16
