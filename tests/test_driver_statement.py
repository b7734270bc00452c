"""DriverStatement and driver_execute: Core statements on the driver's own cursor, for the
statements every SOAP exchange and statement import runs. They must store what
SQLAlchemy's execute stores (types converted the same way), fail as it fails, and never
run outside a transaction."""

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError

from hub.db.base import UtcDateTime
from hub.db.database import (
    BEFORE_COMMIT,
    AfterCommit,
    Database,
    DriverStatement,
    driver_execute,
    pipelined,
    unavailable,
)

_META = MetaData()
_THINGS = Table(
    "driver_things",
    _META,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("at", UtcDateTime(), nullable=True),
    Column("naive", DateTime(), nullable=True),
)
_ADD = DriverStatement(insert(_THINGS))
_RENAME = DriverStatement(update(_THINGS).where(_THINGS.c.id == 1))
_RENAME_RETURNING = DriverStatement(
    update(_THINGS)
    .where(_THINGS.c.id == bindparam("thing"))
    .values(name=bindparam("new_name"))
    .returning(_THINGS.c.id, _THINGS.c.name)
)
_NAMED = DriverStatement(select(_THINGS.c.id).where(_THINGS.c.name == bindparam("name")))
_ALL = DriverStatement(select(_THINGS.c.id, _THINGS.c.name).order_by(_THINGS.c.id))


@pytest.fixture
def things(db: Database) -> Iterator[Database]:
    _META.create_all(db.engine)
    yield db
    _META.drop_all(db.engine)


def test_rows_match_what_sqlalchemy_stores(things: Database) -> None:
    at = datetime(2026, 12, 4, 9, 30, 1, 123456, tzinfo=UTC)
    with things.engine.begin() as connection:
        _ADD.execute(connection, {"id": 1, "name": "driver", "at": at, "naive": at.replace(tzinfo=None)})
        connection.execute(insert(_THINGS), {"id": 2, "name": "orm", "at": at, "naive": at.replace(tzinfo=None)})
        _ADD.execute_many(connection, [{"id": 3, "name": "many", "at": None}, {"id": 4, "name": "more", "at": at}])
    with things.engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(_THINGS))}
        # the stored text itself, not only what SQLAlchemy reads back from it
        raw = {
            r[0]: tuple(map(str, r[1:])) for r in connection.exec_driver_sql("SELECT id, at, naive FROM driver_things")
        }
    assert rows[1].at == rows[2].at == rows[4].at == at
    assert rows[1].naive == rows[2].naive == at.replace(tzinfo=None)
    assert raw[1] == raw[2]
    assert rows[3].at is None and rows[3].name == "many"


def test_typed_rows_are_what_sqlalchemys_result_gives(things: Database) -> None:
    """`rows`: each value converted by its column's type (on SQLite a time is text, a
    boolean 0 or 1), fields named by the columns' keys; the same on both databases."""
    at = datetime(2026, 12, 4, 9, 30, 1, 123456, tzinfo=UTC)
    everything = DriverStatement(
        select(_THINGS.c.id, _THINGS.c.name, _THINGS.c.at, (_THINGS.c.id > 1).label("later")).order_by(_THINGS.c.id)
    )
    moved = DriverStatement(update(_THINGS).where(_THINGS.c.id == 2).returning(_THINGS.c.at, _THINGS.c.name))
    with things.engine.begin() as connection:
        _ADD.execute_many(connection, [{"id": 1, "name": "one", "at": at}, {"id": 2, "name": "two", "at": None}])
        typed = everything.rows(connection)
        expected = [tuple(r) for r in connection.execute(everything.statement)]
        returned = moved.rows(connection, {"name": "deux", "at": at})
    assert [tuple(r) for r in typed] == expected == [(1, "one", at, False), (2, "two", None, True)]
    assert typed[0].at == at and typed[0].at.tzinfo is not None and typed[1].later is True
    assert [(r.at, r.name) for r in returned] == [(at, "deux")]


def test_rows_of_a_statement_whose_columns_are_unknown_are_refused_not_cut(things: Database) -> None:
    """A text() statement names no columns: its rows cannot be typed, and `rows` says so
    rather than give them cut to no fields."""
    with things.engine.begin() as connection:
        with pytest.raises(ValueError, match="a row of 2 values for 0 columns"):
            DriverStatement(text("SELECT 1, 'one'")).rows(connection)


def test_update_keys_and_literal_where(things: Database) -> None:
    with things.engine.begin() as connection:
        _ADD.execute_many(connection, [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
        _RENAME.execute(connection, {"name": "uno"})
        assert _NAMED.execute(connection, {"name": "uno"}) == [(1,)]
        assert _NAMED.execute(connection, {"name": "two"}) == [(2,)]


def test_values_are_taken_by_name_in_the_statement_s_order(things: Database) -> None:
    with things.engine.begin() as connection:
        _ADD.execute(connection, {"naive": None, "name": "one", "at": None, "id": 1})  # not the columns' order
        _ADD.execute(connection, {"id": 2, "name": "two", "unused": "x"})  # a key no column has: ignored
        assert _ALL.execute(connection) == [(1, "one"), (2, "two")]  # a statement of no values
        assert _NAMED.execute(connection, {"name": "two"}) == [(2,)]  # of one
        with pytest.raises(KeyError):
            _NAMED.execute(connection, {})  # a value with no default, left out


def test_driver_errors_are_sqlalchemys_and_roll_back(things: Database) -> None:
    with pytest.raises(IntegrityError), things.engine.begin() as connection:
        _ADD.execute(connection, {"id": 1, "name": "first"})
        _ADD.execute(connection, {"id": 1, "name": "again"})
    with things.engine.connect() as connection:
        assert connection.execute(select(_THINGS)).all() == []
    with pytest.raises(DBAPIError), things.engine.begin() as connection:
        driver_execute(connection, "SELECT no_such_column FROM driver_things", ())
    with pytest.raises((StatementError, KeyError)), things.engine.begin() as connection:
        _NAMED.execute(connection, {})


def test_refuses_to_run_outside_a_transaction(things: Database) -> None:
    with things.engine.connect() as connection, pytest.raises(RuntimeError, match="inside a transaction"):
        _NAMED.execute(connection, {"name": "x"})


def test_pipelined_statements_all_run_and_fail_as_sqlalchemys(things: Database) -> None:
    """`pipelined` sends the block's statements together on PostgreSQL (a no-op on SQLite):
    what they store, and how a failing one fails, is the same either way."""
    with things.engine.begin() as connection, pipelined(connection):
        _ADD.execute_many(connection, [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
        _RENAME.execute(connection, {"name": "uno"})
    with pytest.raises(IntegrityError), things.engine.begin() as connection, pipelined(connection):
        _ADD.execute(connection, {"id": 3, "name": "three"})
        _ADD.execute(connection, {"id": 1, "name": "again"})
        _RENAME.execute(connection, {"name": "never"})
    with things.engine.connect() as connection:
        assert connection.execute(select(_THINGS.c.id, _THINGS.c.name).order_by(_THINGS.c.id)).all() == [
            (1, "uno"),
            (2, "two"),
        ]


def test_constant_column_defaults_are_filled_in_and_functions_refused(things: Database) -> None:
    """As SQLAlchemy's execute would: a value left out gets the column's `default=`; a
    default function cannot be run here, so such a statement is refused, not run with NULL."""
    meta = MetaData()
    defaulted = Table(
        "driver_defaulted",
        meta,
        Column("id", Integer, primary_key=True),
        Column("holds", Integer, nullable=False, default=1),
        Column("named", String(20), nullable=True, default=lambda: "made"),
    )
    meta.create_all(things.engine)
    try:
        with things.engine.begin() as connection:
            DriverStatement(insert(defaulted)).execute(connection, {"id": 1, "named": "given"})
            with pytest.raises(ValueError, match="named has a default function"):
                DriverStatement(insert(defaulted)).execute(connection, {"id": 2})
        with things.engine.connect() as connection:
            assert connection.execute(select(defaulted)).all() == [(1, 1, "given")]
    finally:
        meta.drop_all(things.engine)


def _sent_together(connection, statement: DriverStatement, values_each: list[dict]) -> list[list]:
    """Each of `values_each` sent in one pipelined() block, each one's rows read after it."""
    with pipelined(connection):
        sent = [statement.send(connection, values) for values in values_each]
    return [s.rows() for s in sent]


def test_statements_sent_together_run_in_order_and_each_gives_its_rows(things: Database) -> None:
    with things.engine.begin() as connection:
        _ADD.execute_many(connection, [{"id": i, "name": f"n{i}", "at": None, "naive": None} for i in (1, 2)])
        renamed = _sent_together(
            connection,
            _RENAME_RETURNING,
            [{"thing": 1, "new_name": "first"}, {"thing": 9, "new_name": "nobody"}, {"thing": 1, "new_name": "again"}],
        )
    assert [[tuple(row) for row in rows] for rows in renamed] == [[(1, "first")], [], [(1, "again")]]
    assert renamed[0][0].name == "first"
    with things.engine.connect() as connection:
        assert connection.execute(select(_THINGS.c.name).order_by(_THINGS.c.id)).scalars().all() == ["again", "n2"]


def test_statements_sent_together_stop_at_an_error_and_raise_it_as_sqlalchemy_does(things: Database) -> None:
    with pytest.raises(IntegrityError), things.engine.begin() as connection:
        _ADD.execute(connection, {"id": 1, "name": "one", "at": None, "naive": None})
        _sent_together(
            connection,
            _ADD,
            [{"id": 2, "name": "two", "at": None, "naive": None}, {"id": 1, "name": "dup", "at": None, "naive": None}],
        )
    with things.engine.connect() as connection:
        assert connection.execute(select(_THINGS.c.id)).scalars().all() == []  # the transaction rolled back whole


def test_a_statement_sent_in_a_pipeline_is_read_after_it_not_in_it(pg_db: Database) -> None:
    """Inside the block the server has not answered yet: a read there would find no rows
    and say so silently, so it is refused."""
    _META.create_all(pg_db.engine)
    try:
        with pg_db.engine.begin() as connection:
            _ADD.execute(connection, {"id": 1, "name": "one", "at": None, "naive": None})
            with pipelined(connection):
                sent = _RENAME_RETURNING.send(connection, {"thing": 1, "new_name": "uno"})
                with pytest.raises(RuntimeError, match="read after the block"):
                    sent.rows()
            assert [tuple(row) for row in sent.rows()] == [(1, "uno")]
    finally:
        _META.drop_all(pg_db.engine)


def _sent_messages(trace: Path) -> list[str]:
    lines = [line.split("\t") for line in trace.read_text().splitlines()]
    return [parts[3].split(" ", 1)[0] for parts in lines if len(parts) > 3 and parts[1] == "F"]


def test_on_postgresql_statements_sent_together_are_one_round_trip(pg_db: Database, tmp_path) -> None:
    _META.create_all(pg_db.engine)
    trace = tmp_path / "libpq.trace"
    try:
        with pg_db.engine.begin() as connection:
            _ADD.execute_many(connection, [{"id": i, "name": f"n{i}", "at": None, "naive": None} for i in (1, 2, 3)])
            raw = connection.connection.driver_connection
            with trace.open("w") as out:
                raw.pgconn.trace(out.fileno())
                try:
                    renamed = _sent_together(
                        connection, _RENAME_RETURNING, [{"thing": i, "new_name": f"r{i}"} for i in (3, 1, 2)]
                    )
                finally:
                    raw.pgconn.untrace()
        assert [[tuple(row) for row in rows] for rows in renamed] == [[(3, "r3")], [(1, "r1")], [(2, "r2")]]
        sent = _sent_messages(trace)
        assert (sent.count("Execute"), sent.count("Sync")) == (3, 1), sent
    finally:
        _META.drop_all(pg_db.engine)


def test_what_waits_for_the_commit_is_sent_in_one_round_trip_and_checked_in_order(pg_db: Database, tmp_path) -> None:
    """BeforeCommit: every hook's statements go together, then each hook's check reads its
    own, in the order the hooks were added; a check that raises rolls the transaction back."""
    _META.create_all(pg_db.engine)
    trace = tmp_path / "libpq.trace"
    checked: list[list[tuple]] = []

    def renaming(thing: int, new_name: str):
        def hook(connection):
            sent = _RENAME_RETURNING.send(connection, {"thing": thing, "new_name": new_name})
            return lambda: checked.append([tuple(row) for row in sent.rows()])

        return hook

    try:
        with pg_db.engine.begin() as connection:
            _ADD.execute_many(connection, [{"id": i, "name": f"n{i}", "at": None, "naive": None} for i in (1, 2)])
        with pg_db.transaction() as session:
            connection = session.connection()
            before_commit = session.info[BEFORE_COMMIT]
            for thing, new_name in ((2, "second"), (1, "first"), (9, "nobody")):
                before_commit.add(renaming(thing, new_name))
            _NAMED.execute(connection, {"name": "n1"})  # the transaction begun (psycopg sends BEGIN with it)
            raw = connection.connection.driver_connection
            with trace.open("w") as out:
                raw.pgconn.trace(out.fileno())
                try:
                    before_commit.run(connection)
                finally:
                    raw.pgconn.untrace()
        assert checked == [[(2, "second")], [(1, "first")], []]
        sent = _sent_messages(trace)
        assert (sent.count("Execute"), sent.count("Sync")) == (3, 1), sent

        def refusing(connection):
            _RENAME_RETURNING.send(connection, {"thing": 1, "new_name": "never"})
            return lambda: (_ for _ in ()).throw(ValueError("refused by its check"))

        with pytest.raises(ValueError, match="refused by its check"), pg_db.transaction() as session:
            session.info[BEFORE_COMMIT].add(refusing)
        with pg_db.engine.connect() as connection:
            assert connection.execute(select(_THINGS.c.name).order_by(_THINGS.c.id)).scalars().all() == [
                "first",
                "second",
            ]
    finally:
        _META.drop_all(pg_db.engine)


def test_in_an_exchange_the_commit_goes_with_what_waits_for_it_when_no_hook_checks(pg_db: Database, tmp_path) -> None:
    """Exchange (PostgreSQL): when no BeforeCommit hook has a check, the COMMIT goes in the
    hooks' round trip, and what a hook left for after the commit (`AfterCommit`) runs then,
    seeing its rows committed; a hook with a check keeps the COMMIT apart, since its check reads
    the answers first; a statement the server refuses makes the pipeline skip the COMMIT after
    it: nothing of the transaction stays, and nothing runs after it."""
    _META.create_all(pg_db.engine)
    trace = tmp_path / "libpq.trace"
    other = create_engine(pg_db.url)
    names = select(_THINGS.c.name).order_by(_THINGS.c.id)

    def committed_names() -> list[str]:
        with other.connect() as connection:
            return list(connection.execute(names).scalars())

    def renaming(thing: int, new_name: str, check: bool = False):
        def hook(connection):
            sent = _RENAME_RETURNING.send(connection, {"thing": thing, "new_name": new_name})
            return sent.rows if check else None

        return hook

    def traced_commit(*hooks) -> list[str]:
        with pg_db.exchange(), pg_db.transaction() as session:
            connection = session.connection()
            _NAMED.execute(connection, {"name": "n1"})  # the transaction begun (its BEGIN sent with it)
            for hook in hooks:
                session.info[BEFORE_COMMIT].add(hook)
            raw = connection.connection.driver_connection
            out = trace.open("w")
            raw.pgconn.trace(out.fileno())
        raw.pgconn.untrace()
        out.close()
        return _sent_messages(trace)

    try:
        with pg_db.engine.begin() as connection:
            _ADD.execute_many(connection, [{"id": i, "name": f"n{i}", "at": None, "naive": None} for i in (1, 2)])
        seen_after: list[list[str]] = []
        sent = traced_commit(
            renaming(1, "first"),
            renaming(2, "second"),
            lambda connection: AfterCommit(lambda: seen_after.append(committed_names())),
        )
        assert (sent.count("Execute"), sent.count("Sync"), sent.count("Query")) == (3, 1, 0), sent  # COMMIT the 3rd
        assert seen_after == [["first", "second"]]

        sent = traced_commit(renaming(1, "uno", check=True))
        assert (sent.count("Execute"), sent.count("Sync"), sent.count("Query")) == (1, 1, 1), sent  # COMMIT apart
        assert committed_names() == ["uno", "second"]

        seen_after.clear()
        with pytest.raises(DBAPIError, match="too long"):
            traced_commit(
                renaming(1, "never"),
                renaming(2, "a name longer than its column"),
                lambda connection: AfterCommit(lambda: seen_after.append(committed_names())),
            )
        assert committed_names() == ["uno", "second"]
        assert seen_after == []
    finally:
        other.dispose()
        _META.drop_all(pg_db.engine)


def test_on_sqlite_a_begin_that_finds_the_database_locked_fails_as_sqlalchemy_s_would(tmp_path) -> None:
    """BEGIN runs on the driver's own connection (hub.db.database._sqlite_begin): a database
    another program holds locked still gives SQLAlchemy's OperationalError, which the hub
    reads as the database unavailable, and the writers' file lock is given back."""
    db = Database(f"sqlite:///{tmp_path / 'locked.sqlite3'}")
    try:
        with db.engine.connect():  # the database made, in WAL, and the connection pooled
            pass
        other = sqlite3.connect(str(tmp_path / "locked.sqlite3"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program's writer, past the hub's file lock
        try:
            with db.engine.connect() as connection:
                connection.connection.driver_connection.execute("PRAGMA busy_timeout=50")  # not 60 s
                with pytest.raises(OperationalError, match="database is locked") as refused:
                    connection.begin()
                assert unavailable(refused.value)
                writers = os.open(f"{tmp_path / 'locked.sqlite3'}.writers", os.O_RDWR)
                try:
                    fcntl.flock(writers, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: given back
                finally:
                    os.close(writers)
        finally:
            other.rollback()
            other.close()
    finally:
        db.dispose()


# -- DriverStatement.send_ahead: not waited for, joined by the next statements ------------------


def _directions(trace: Path) -> list[str]:
    """The libpq trace as the turns of the conversation: "F" while the client sends, "B"
    while the server answers (so "F", "B" is one round trip)."""
    turns: list[str] = []
    for parts in (line.split("\t") for line in trace.read_text().splitlines()):
        if len(parts) > 3 and parts[1] in ("F", "B") and (not turns or turns[-1] != parts[1]):
            turns.append(parts[1])
    return turns


def test_a_statement_sent_ahead_is_joined_by_the_next_ones_in_one_round_trip(pg_db: Database, tmp_path) -> None:
    """On PostgreSQL the statement goes at once and the caller goes on; the next driver
    statement joins it, one round trip for both, each with its own answer, in order."""
    _META.create_all(pg_db.engine)
    trace = tmp_path / "libpq.trace"
    try:
        with pg_db.exchange(), pg_db.autocommitted() as connection:
            raw = connection.connection.driver_connection
            with trace.open("w") as out:
                raw.pgconn.trace(out.fileno())
                try:
                    sent = _ADD.send_ahead(connection, {"id": 1, "name": "one", "at": None, "naive": None})
                    named = _NAMED.rows(connection, {"name": "one"})  # runs after the insert: it sees it
                finally:
                    raw.pgconn.untrace()
            assert sent.rows() == [] and [tuple(row) for row in named] == [(1,)]
        assert _directions(trace) == ["F", "B"]
    finally:
        _META.drop_all(pg_db.engine)


def test_a_statement_sent_ahead_is_read_by_whatever_comes_next(things: Database) -> None:
    """Its answer is read by its own `rows()`, by SQLAlchemy's next statement, and by the
    block's end, which gives the connection back; its error comes out there as SQLAlchemy's."""
    row = {"id": 1, "name": "one", "at": None, "naive": None}
    with things.exchange(), things.autocommitted() as connection:
        _ADD.send_ahead(connection, row)
        assert connection.execute(select(_THINGS.c.name)).scalars().all() == ["one"]  # SQLAlchemy's own
        assert _RENAME_RETURNING.send_ahead(connection, {"thing": 1, "new_name": "uno"}).rows()[0].name == "uno"
    with things.autocommitted() as connection:  # no exchange: the block's end reads it before giving it back
        _ADD.send_ahead(connection, {**row, "id": 2, "name": "two"})
    with things.exchange(), things.autocommitted() as connection, pytest.raises(IntegrityError):
        _ADD.send_ahead(connection, row).rows()  # id 1 is stored: refused at the read (SQLite: at once)
    with pytest.raises(IntegrityError), things.autocommitted() as connection:
        _ADD.send_ahead(connection, row)
    with things.engine.connect() as connection:
        assert connection.execute(select(_THINGS.c.name).order_by(_THINGS.c.id)).scalars().all() == ["uno", "two"]


def test_an_exchange_that_ends_with_a_statement_sent_ahead_unread_keeps_a_clean_connection(pg_db: Database) -> None:
    """The statement's answer is read as the exchange ends (its error, no one's by then, is
    logged); the connection kept serves the next exchange, a snapshot's switch included."""
    _META.create_all(pg_db.engine)
    row = {"id": 1, "name": "one", "at": None, "naive": None}
    try:
        for attempt in range(2):  # the second insert is refused: id 1 is stored
            with pg_db.exchange(), pg_db.autocommitted() as connection:
                _ADD.send_ahead(connection, row)
                driver = connection.connection.driver_connection
            with pg_db.exchange(), pg_db.snapshot() as session:
                assert session.connection().connection.driver_connection is driver, attempt  # kept, not dropped
                assert session.execute(select(_THINGS.c.name)).scalars().all() == ["one"], attempt
    finally:
        _META.drop_all(pg_db.engine)
