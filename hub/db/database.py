"""Engine and transactions for SQLite (default) and PostgreSQL (production, CI).

Writers must never interleave on money. PostgreSQL: READ COMMITTED with row
locks (`SELECT ... FOR UPDATE`, taken in a fixed order by the ledger), and
unique constraints as the last word. SQLite: WAL, and every writing
transaction starts with `BEGIN IMMEDIATE`, so writers queue on the database
lock instead of failing at commit; readers use a deferred BEGIN and never wait.
A writer waits for SQLite's lock on a file lock beside the database first (`flock`,
`<database>.writers`): the kernel wakes it the moment the last writer commits, where
SQLite's busy handler would poll in sleeps of 1 to 100 ms. Once it has the file lock,
its BEGIN IMMEDIATE finds the database free (the busy handler stays for other programs).
A served hub copies the WAL back into the database from a thread of its own
(`Database.checkpoint_in_background`), not in the commit that crossed SQLite's threshold,
which did it while holding the writers' lock and its process's turn (BENCHMARKS.md, run 12).
"""

from __future__ import annotations

import fcntl
import functools
import logging
import operator
import os
import re
import select as io_select
import sqlite3
import threading
from collections import deque, namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Integer,
    RootTransaction,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCLASS
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement, ColumnClause

from hub.db import libpq

SQLITE_BUSY_TIMEOUT_S = 60
CHECKPOINT_EVERY_S = 0.2  # a served hub's WAL is copied back this often (`Database.checkpoint_in_background`)
WAL_FRAMES_MAX = 16_384  # 64 MB of 4 KB pages: past this the WAL is started over with the writers held
RESTART_WAIT_S = 0.5  # how long that waits for readers to finish, holding the writers, before it tries later

log = logging.getLogger("hub.db")
READ_COMMITTED = "READ COMMITTED"  # PostgreSQL's, for every transaction but a snapshot's


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLite paths get their folder created."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def is_sqlite_url(url: str) -> bool:
    """Whether `url` names an SQLite database (any sqlite driver), with nothing made on disk."""
    return make_url(url).drivername.startswith("sqlite")


def _writers_file(database: str) -> str:
    return f"{database}.writers"  # the module's docstring


class _SqliteConnection(sqlite3.Connection):
    """A SQLite connection whose writers queue on `<database>.writers` (see the module's
    docstring): taken before BEGIN IMMEDIATE, given back when the transaction ends."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = str(database)
        self._writers_path = None if path in ("", ":memory:") else _writers_file(path)
        self._writers_fd: int | None = None
        self._writing = False

    def take_write_lock(self) -> None:
        if self._writers_path is None or self._writing:
            return
        if self._writers_fd is None:
            self._writers_fd = os.open(self._writers_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._writers_fd, fcntl.LOCK_EX)  # sleeps in the kernel until it is ours
        self._writing = True

    def give_back_write_lock(self) -> None:
        if self._writing and self._writers_fd is not None:
            self._writing = False
            fcntl.flock(self._writers_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_write_lock()

    def close(self) -> None:
        self.give_back_write_lock()
        if self._writers_fd is not None:
            os.close(self._writers_fd)
            self._writers_fd = None
        super().close()


@contextmanager
def _writers_held(database: str) -> Iterator[None]:
    """The writers' file lock of the SQLite database at `database`, as `_SqliteConnection`
    takes it: no hub writer of any process begins while it is held."""
    fd = os.open(_writers_file(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # gives the lock back


class _Checkpointer(threading.Thread):
    """Copies a SQLite database's WAL back into the database every `every_s`, on a connection
    of its own (`Database.checkpoint_in_background`). A PASSIVE checkpoint waits for nobody
    and holds nobody up: writers go on appending meanwhile. SQLite starts the WAL over when a
    writer finds it all copied; should writers never leave it that moment (a steady load never
    does), past `WAL_FRAMES_MAX` frames the checkpointer holds the writers' lock, copies the
    rest and has the next writer start the WAL over (RESTART): at most 64 MB of WAL. RESTART
    waits for readers still on the WAL; it waits `RESTART_WAIT_S` at most (the writers wait
    with it), then gives the lock back and tries again next time."""

    def __init__(self, database: str, every_s: float) -> None:
        super().__init__(name="hub-sqlite-checkpoint", daemon=True)
        self.database, self.every_s = database, every_s
        self.stopping = threading.Event()
        self.last: tuple[int, int, int] | None = None  # (busy, frames in the WAL, frames copied)
        self._connection: sqlite3.Connection | None = None
        self._seen: tuple[int, int] | None = None  # the WAL file's size and time when last copied

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.every_s):
                if not os.path.exists(self.database):  # the database went (a test's folder)
                    return
                try:
                    if self._wal_changed():
                        self.checkpoint()
                except sqlite3.Error:  # tried again in `every_s`; the commits meanwhile stay in the WAL
                    log.exception("the SQLite checkpoint of %s failed; trying again", self.database)
        finally:
            if self._connection is not None:
                self._connection.close()

    def _wal_changed(self) -> bool:
        """Whether anything was committed since the last checkpoint: a look at the WAL file
        (its size and time) is all an idle hub's checkpointer costs."""
        try:
            stat = os.stat(f"{self.database}-wal")
        except FileNotFoundError:
            return False
        seen, self._seen = self._seen, (stat.st_size, stat.st_mtime_ns)
        return seen != self._seen

    def checkpoint(self) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self.database, isolation_level=None, timeout=RESTART_WAIT_S, check_same_thread=False
            )  # the thread's, or a caller's while the thread waits (a test's)
        self.last = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if self.last is not None and self.last[1] >= WAL_FRAMES_MAX:
            with _writers_held(self.database):
                self.last = self._connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()


def _make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if is_sqlite_url(url):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None, "factory": _SqliteConnection}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(
        url,
        isolation_level=READ_COMMITTED,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        # psycopg prepares none of its own: it would drop every prepared statement of the
        # connection at each rollback (DEALLOCATE ALL), the driver statements' too (hub.db.libpq)
        connect_args={"connect_timeout": 5, "prepare_threshold": None},
    )
    event.listen(engine, "checkout", _drop_if_closed_by_server)
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "checkin", _forget_pending_begin)
    return engine


# Connection.info key: an exchange's write transaction has begun on the client, and its BEGIN
# goes to the server just before the first statement that runs in it (Exchange.block).
_BEGIN_PENDING = "hub.begin_pending"
# Connection.info key: an exchange's block runs with no transaction of its own (Exchange.block),
# each statement on its own: a read (each statement sees the database as of its own start, on
# SQLite as under PostgreSQL's READ COMMITTED), or PostgreSQL's autocommit (`autocommitted()`).
# Neither pays for SQLAlchemy's begin and commit, nor the database for BEGIN and COMMIT.
_NO_TRANSACTION = "hub.no_transaction"
_ANSWERS_LATER = "hub.answers_later"  # connection.info: inside `answers_later`, where BulkInsert.send may go on


def _no_begin_pending(connection: Connection | None) -> None:
    """The transaction has ended (or never sent a statement): its BEGIN is no longer to be sent.
    A connection that was lost has nothing to clear (the pool cleared its `info`), and is not
    touched: it would refuse until its transaction is rolled back."""
    if connection is not None and not connection.invalidated and not connection.closed:
        connection.info.pop(_BEGIN_PENDING, None)


def _forget_pending_begin(_dbapi_connection: Any, record: Any) -> None:
    """A connection back in the pool has no BEGIN to send: whichever way its exchange ended,
    the next user of the connection does not inherit it."""
    if record is not None:
        record.info.pop(_BEGIN_PENDING, None)


def _before_statement(connection: Connection, cursor: Any, *_: Any) -> None:
    """Before a statement SQLAlchemy runs (PostgreSQL): what was sent ahead on the connection
    and waits unanswered, read first (`settle`); then the BEGIN of the exchange's write
    transaction, if it is still to be sent (the driver statements send it themselves:
    `driver_execute`)."""
    settle(connection)
    if connection.info.pop(_BEGIN_PENDING, False):
        cursor.execute("BEGIN")


def settle(connection: Connection) -> None:
    """What was sent on the connection without waiting for its answer (`DriverStatement.
    send_ahead`, `BulkInsert.send`) and is still unanswered, read now, its first error raised
    as SQLAlchemy's (as from `driver_execute`). The driver statements need none of this: their
    pipeline joins what waits. Everything else does, before it touches the connection:
    SQLAlchemy's own statements (`_before_statement`), a commit, a rollback, a change of
    isolation level, the connection given back. A no-op on SQLite, and when nothing waits."""
    if connection.invalidated or connection.closed:
        return
    state = libpq.waiting(connection.connection.info)
    if state is None:
        return
    try:
        state.read_unanswered()
    except connection.dialect.loaded_dbapi.Error as error:
        raise _driver_error(connection, error, "(a statement sent ahead)", None, None) from error


def _drop_if_closed_by_server(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Before a pooled PostgreSQL connection is handed out: one the server has closed while it
    lay in the pool (a restart, `pg_terminate_backend`, an idle timeout) is dropped, and the
    pool connects anew (SQLAlchemy retries a checkout that raises DisconnectionError), so a
    restart costs no request (`_closed_by_server`)."""
    if _closed_by_server(record.driver_connection):
        raise DisconnectionError("the server closed the pooled connection")


def _closed_by_server(connection: Any) -> bool:
    """Whether a PostgreSQL connection lying unused (in the pool, or kept for the next
    exchange: `_KeptConnections`) was closed. The server says so by writing its reason and
    closing: an unused connection has nothing to read otherwise (its last answer was read to
    the end), so a readable socket means it is gone. Checked locally, with no round trip:
    `pool_pre_ping` asked the server on every checkout (0.27 ms of CPU and a round trip an
    exchange)."""
    if connection.closed or connection.broken:
        return True
    poll = io_select.poll()
    poll.register(connection.fileno(), io_select.POLLIN)
    return bool(poll.poll(0))


def unavailable(error: BaseException) -> bool:
    """The database, not the request, failed: a lost or refused connection (a restart,
    an outage), a server shutting down or starting up, a lock or pool wait that ran out.
    Trying again later can succeed."""
    return isinstance(error, (OperationalError, PoolTimeout)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


def database_problem(error: DBAPIError, url: str) -> str:
    """One line an operator can act on, for a database error that reached a command:
    the database unreachable, or its tables missing (never migrated). `url` is shown
    without its password."""
    shown = make_url(url).render_as_string(hide_password=True)
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    if "no such table" in first or getattr(error.orig, "sqlstate", None) == _UNDEFINED_TABLE:
        return (
            f"the database {shown} lacks tables of this hub "
            "(not initialised, or older than this version): run `hub init`"
        )
    if isinstance(error, OperationalError):
        # psycopg: 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
        reason = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
        reason = reason[:1].lower() + reason[1:]
        return f"cannot connect to {shown}: {reason}"
    return f"database {shown}: {first}"


_UNDEFINED_TABLE = "42P01"
_REPEATABLE_READ = text(
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
)  # PostgreSQL's SQLSTATE for a relation that does not exist


@functools.cache
def insert_if_absent(dialect: str, table: Table, *keys: str, returning: str | None = None) -> Insert:
    """`INSERT ... ON CONFLICT (keys) DO NOTHING` in `dialect` (`postgresql` or `sqlite`),
    built once per table; no keys: a conflict on any unique key. A row already there is
    left as it is and the transaction stays usable; on PostgreSQL an insert racing another
    transaction's uncommitted row waits for it. With `returning`, a row comes back only
    when this insert made it (also for several rows given at once)."""
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).on_conflict_do_nothing(
        index_elements=list(keys) or None
    )
    return statement.returning(table.c[returning]) if returning else statement


def unnested(table: Table, columns: Sequence[str]) -> Select[Any]:
    """Many rows for a PostgreSQL `INSERT ... SELECT`, given as one array a column (a bind
    parameter named after the column): one short statement however many rows. Multi-row
    VALUES makes a statement of rows x columns parameters, which psycopg parses again on
    every execution (it keeps those of at most 50): half a second of CPU for 1,000 rows of 20."""
    return select(*(func.unnest(bindparam(name, type_=ARRAY(table.c[name].type))) for name in columns))


def driver_execute(connection: Connection, sql: str, parameters: Any, *, many: bool = False) -> list[Any]:
    """Runs `sql` (in the driver's own paramstyle) on the driver, inside the transaction
    `connection` has begun; returns the rows as the driver gives them (none for `many`,
    which takes a sequence of parameter sets, and none in a `pipelined()` block). On
    PostgreSQL through libpq (hub.db.libpq), on SQLite by sqlite3's own `execute`. The driver's
    errors come out as SQLAlchemy's (`IntegrityError`, `OperationalError`, ...), as from
    `connection.execute`, and a lost connection is invalidated, so the pool does not hand it
    out again."""
    if connection.dialect.name == "postgresql":
        sent = _libpq_sent(connection, sql, parameters, many=many)
        return sent.rows() if isinstance(sent, libpq.Pending) and sent.ready else []
    cursor = _sqlite_cursor(connection, sql, parameters, many=many)
    try:
        return cursor.fetchall() if not many and cursor.description is not None else []
    finally:
        cursor.close()


def _check_transaction(connection: Connection, info: dict[str, Any]) -> None:
    """`info`: the connection's (`connection.info`), as the caller has it at hand."""
    if not connection.in_transaction() and not info.get(_NO_TRANSACTION):
        raise RuntimeError("driver_execute runs inside a transaction the connection has begun, or a block with none")


def _libpq_sent(
    connection: Connection, sql: str, parameters: Any, *, many: bool = False
) -> libpq.Pending | list[libpq.Pending]:
    """The statement sent on PostgreSQL (hub.db.libpq): in the open `pipelined()` block, or
    else in a round trip of its own, with the transaction's BEGIN when it is still to be
    sent."""
    _check_transaction(connection, connection.info)
    state = _libpq(connection)
    try:
        with state.pipeline():
            if connection.info.pop(_BEGIN_PENDING, False):
                state.send("BEGIN", None)
            if many:
                return [state.send(sql, one) for one in parameters]
            return state.send(sql, parameters)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _driver_error(connection, error, sql, parameters, None) from error


def _sent_unanswered(connection: Connection, sql: str, parameters: Any) -> libpq.Pending:
    """The statement sent on PostgreSQL without waiting for its answer (hub.db.libpq's
    `send_unanswered`), inside the connection's transaction or a block with none; an error
    in sending it raised as SQLAlchemy's."""
    _check_transaction(connection, connection.info)
    try:
        return _libpq(connection).send_unanswered(sql, parameters)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _driver_error(connection, error, sql, None, None) from error


def _libpq(connection: Connection) -> libpq.LibpqConnection:
    """hub.db.libpq's state of the connection's driver, kept with the pool's record of it."""
    pooled = connection.connection  # a sync driver's connection is its DBAPI one: an attribute, not two properties
    return libpq.connection(pooled.dbapi_connection, pooled.info)  # type: ignore[arg-type]


def _sqlite_cursor(connection: Connection, sql: str, parameters: Any, *, many: bool = False) -> sqlite3.Cursor:
    """The statement run on sqlite3, its cursor returned. A SQLite transaction's BEGIN is sent
    as it begins (`_sqlite_begin`): none is left pending here (`_BEGIN_PENDING` is PostgreSQL's)."""
    pooled = connection.connection
    _check_transaction(connection, pooled.info)
    driver = cast(sqlite3.Connection, pooled.dbapi_connection)  # sqlite3's own (a sync driver's is its DBAPI one)
    try:
        return driver.executemany(sql, parameters) if many else driver.execute(sql, parameters)
    except sqlite3.Error as error:
        raise _driver_error(connection, error, sql, parameters, None) from error


class Sent:
    """A statement sent on the driver (`DriverStatement.send`), its rows read afterwards.
    Inside a `pipelined()` block the server answers the block's statements together when the
    block ends: read them after it (reading inside it is refused); an error among them comes
    out at the block's end. Elsewhere (SQLite always) the statement has run and its rows are
    read at once: no statement is left half read (on SQLite, an unread RETURNING would keep
    its transaction from ending)."""

    def __init__(self, sent: libpq.Pending | list[Any], compiled: _Compiled, ahead: Connection | None = None) -> None:
        self._compiled = compiled
        self._sent = sent
        self._ahead = ahead  # the connection it was sent ahead on (`DriverStatement.send_ahead`)

    def driver_rows(self) -> list[Any]:
        """The rows as the driver gives them (none for a statement that gives none); for one
        sent ahead and not yet answered, read now (`settle`)."""
        sent = self._sent
        if not isinstance(sent, libpq.Pending):
            return sent
        if not sent.ready and self._ahead is not None:
            settle(self._ahead)
        return sent.rows()

    def rows(self) -> list[Any]:
        """The rows typed and named as `DriverStatement.rows` gives them."""
        return self._compiled.typed(self.driver_rows())


@contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, the block's `driver_execute` and `DriverStatement.send` statements go to the
    server together, in one round trip (libpq's pipeline mode: hub.db.libpq), when the block
    ends; a no-op on SQLite. Their results, errors included, arrive at the block's end, where
    an error comes out as SQLAlchemy's (as from `driver_execute`) and a lost connection is
    invalidated. So `driver_execute` in the block returns no rows; a statement whose rows
    matter is sent (`Sent`) and read after the block. SQLAlchemy's own `connection.execute`
    does not belong in the block: it would read no rows there."""
    if connection.dialect.name != "postgresql":
        yield
        return
    dbapi = connection.dialect.loaded_dbapi
    try:
        with _libpq(connection).pipeline():
            yield
    except dbapi.Error as error:
        raise _driver_error(connection, error, "(pipeline)", None, None) from error


def _driver_error(connection: Connection, error: Any, sql: str, parameters: Any, cursor: Any) -> DBAPIError:
    """The driver's `error` as SQLAlchemy would raise it; a lost connection is invalidated."""
    lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    dbapi = connection.dialect.loaded_dbapi
    return cast(
        DBAPIError,
        DBAPIError.instance(
            sql, parameters, error, dbapi.Error, connection_invalidated=lost, dialect=connection.dialect
        ),
    )


class _Compiled:
    """A statement compiled for one dialect and one set of value keys."""

    def __init__(self, statement: ClauseElement, connection: Connection, keys: Sequence[str]) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=connection.dialect, column_keys=list(keys)))
        self.sql = compiled.string
        binds = compiled.binds
        self.names: tuple[str, ...] = tuple(compiled.positiontup or binds)
        self.positional = compiled.positiontup is not None
        self.defaults = {name: binds[name].value for name in self.names if not binds[name].required}
        self.defaults.update(_column_defaults(compiled))
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            process = binds[name].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
            if process is not None:
                self.processors[name] = process
        # What a SELECT or a RETURNING gives back (none for a text() statement): for `DriverStatement.rows`.
        columns = list(getattr(statement, "exported_columns", ()))
        names = [column.key or f"column_{i}" for i, column in enumerate(columns)]  # `max(...)` has no key
        self.row = namedtuple("Row", names)  # type: ignore[misc]  # two columns of one key: refused here
        # The columns' converters by position: most columns have none, and a loop over every
        # value asking for one cost a RedeemCoupon 50 µs, mostly inside its transaction.
        self.converters: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (i, convert)
            for i, column in enumerate(columns)
            if (convert := column.type.dialect_impl(connection.dialect).result_processor(connection.dialect, None))
            is not None
        )
        self.width = len(columns)
        # For `parameters`: every value taken at once, in the statement's order (a loop over
        # the names cost a VerifyCoupon's few statements ~700 bytecodes, a RedeemCoupon's
        # ~2,400), then the converters of those that have one, by position.
        self._values_of = _taking(self.names)
        self._converting = tuple(
            (i, self.processors[name]) for i, name in enumerate(self.names) if name in self.processors
        )

    def typed(self, rows: list[Any]) -> list[Any]:
        typed = []
        for row in rows:
            if len(row) != self.width:
                raise ValueError(f"a row of {len(row)} values for {self.width} columns")
            values = list(row)
            for i, convert in self.converters:
                values[i] = convert(values[i])
            typed.append(self.row(*values))
        return typed

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for `values`: a value left out takes its default (a KeyError
        for one that has none), and each is converted by its column's type."""
        if self.defaults:
            values = {**self.defaults, **values}
        bound = self._values_of(values)
        if self._converting:
            bound = list(bound)
            for i, convert in self._converting:
                bound[i] = convert(bound[i])
        return tuple(bound) if self.positional else dict(zip(self.names, bound, strict=True))


def _taking(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """A function giving the values of `names` in a mapping, in their order, as a sequence."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    if names:
        only = names[0]
        return lambda values: (values[only],)
    return lambda values: ()


def _column_defaults(compiled: SQLCompiler) -> dict[str, Any]:
    """The Python-side defaults (`default=`, `onupdate=`) of the columns the values leave
    out, which SQLAlchemy's execute fills in: a constant is filled in here too; a function
    is refused, since nothing here would call it."""
    defaults: dict[str, Any] = {}
    for columns, kind in ((compiled.insert_prefetch, "default"), (compiled.update_prefetch, "onupdate")):
        for column in columns:
            default = getattr(column, kind)
            if not default.is_scalar:
                raise ValueError(f"column {column.key} has a {kind} function; give its value to a DriverStatement")
            defaults[column.key] = default.arg
    return defaults


class DriverStatement:
    """A Core statement run on the driver itself (`driver_execute`), compiled once per
    dialect and set of value keys, its values converted by the columns' types as SQLAlchemy
    would. For the few small statements every SOAP exchange and every statement import
    runs: SQLAlchemy's execute costs 5-8x the driver's own work on them (an execution
    context, a result and a cache key each time). `execute` gives the rows as the driver
    gives them; `rows` converts each value by its column's type as SQLAlchemy's result would
    (SQLite's text times to aware datetimes, its 0 and 1 to booleans) and names the fields
    by the columns' keys."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def execute(self, connection: Connection, values: Mapping[str, Any] | None = None) -> list[Any]:
        values = values or {}
        compiled = self._for(connection, values)
        return driver_execute(connection, compiled.sql, compiled.parameters(values))

    def rows(self, connection: Connection, values: Mapping[str, Any] | None = None) -> list[Any]:
        """`execute`, its rows typed and named as SQLAlchemy's are (`row.code`, `row.created_at`)."""
        values = values or {}
        compiled = self._for(connection, values)
        return compiled.typed(driver_execute(connection, compiled.sql, compiled.parameters(values)))

    def send(self, connection: Connection, values: Mapping[str, Any] | None = None) -> Sent:
        """`rows`, read afterwards (`Sent.rows`): in a `pipelined()` block, after the block."""
        values = values or {}
        compiled = self._for(connection, values)
        parameters = compiled.parameters(values)
        if connection.dialect.name == "postgresql":
            return Sent(cast(libpq.Pending, _libpq_sent(connection, compiled.sql, parameters)), compiled)
        return Sent(driver_execute(connection, compiled.sql, parameters), compiled)

    def send_ahead(self, connection: Connection, values: Mapping[str, Any] | None = None) -> Sent:
        """`send`, outside any pipeline, without waiting for its answer: on PostgreSQL the
        statement goes to the server at once and the caller goes on while it runs; the
        connection's next driver statements join it (one round trip for them all), and
        anything else reads its answer first (`settle`), as `Sent.rows` does if nothing has
        by then. Whoever gives the connection back settles it first (`Database`, `Exchange`).
        On SQLite, `send`."""
        values = values or {}
        compiled = self._for(connection, values)
        parameters = compiled.parameters(values)
        if connection.dialect.name != "postgresql" or connection.info.get(_BEGIN_PENDING):
            # SQLite; or a transaction whose BEGIN waits for a statement read at once
            return Sent(driver_execute(connection, compiled.sql, parameters), compiled)
        return Sent(_sent_unanswered(connection, compiled.sql, parameters), compiled, ahead=connection)

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement, many rows (`executemany`): the rows have the first one's keys."""
        if not rows:
            return
        compiled = self._for(connection, rows[0])
        driver_execute(connection, compiled.sql, [compiled.parameters(row) for row in rows], many=True)

    def _for(self, connection: Connection, values: Mapping[str, Any]) -> _Compiled:
        key = (connection.dialect.name, tuple(values))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, connection, tuple(values))
        return compiled


@dataclass(frozen=True)
class Claim:
    """A row that claims something once by its unique key column `key` (a signature seen:
    hub.db.replay): inserted if absent, and whoever inserted it has the claim."""

    table: Table
    key: str
    values: Mapping[str, Any]

    def made_in(self, connection: Connection) -> bool:
        """Inserts the row in the caller's transaction: True if this made it."""
        return bool(_claim_insert(self.table, self.key)[connection.dialect.name].execute(connection, self.values))


@functools.cache
def _claim_insert(table: Table, key: str) -> dict[str, DriverStatement]:
    return driver_insert_if_absent(table, key, returning=key)


def driver_insert_if_absent(table: Table, *keys: str, returning: str | None = None) -> dict[str, DriverStatement]:
    """`insert_if_absent` on the driver, one DriverStatement a database, by dialect
    name: for the claims every exchange makes (a replay-cache row, a RequestId)."""
    return {
        dialect: DriverStatement(insert_if_absent(dialect, table, *keys, returning=returning))
        for dialect in ("sqlite", "postgresql")
    }


class BulkInsert:
    """Many rows into `table`, a row whose unique key (`keys`; none: any unique key) is stored
    already left out (`insert_if_absent`; with `skip_stored=False` it fails the insert instead,
    an IntegrityError), the `returning` columns of the rows it made coming back (in no set
    order). For the imports that write thousands of rows at once: compiled once, run on the
    driver itself, the values converted by the columns' types as SQLAlchemy would
    (`DriverStatement`, `driver_execute`).

    - PostgreSQL: one `INSERT ... SELECT unnest(...)`, one array a column (`unnested`), sent
      in psycopg's binary format: its text format searches every element for characters to
      quote, ~7x the CPU of the binary one.
    - SQLite: `executemany` of the one-row insert (its loop is sqlite3's, in C), then the rows
      made are those above the largest rowid before it: the write transaction holds SQLite's
      lock, and SQLite numbers a new row past the largest. Half the CPU of one statement over
      a JSON array of the rows (json_each), and multi-row VALUES would be compiled again for
      every number of rows."""

    def __init__(
        self, table: Table, columns: Sequence[str], *keys: str, returning: Sequence[str] = (), skip_stored: bool = True
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.returning = tuple(returning)
        defaulted = [c.name for c in table.columns if c.default is not None and c.name not in self.columns]
        if defaulted:  # SQLAlchemy's execution context applies them; the driver would store NULL
            raise ValueError(f"a bulk insert into {table.name} is given every column with a default: {defaulted}")
        self._one = insert_if_absent("sqlite", table, *keys) if skip_stored else sqlite_insert(table)
        rowid: ColumnClause[Any] = literal_column("rowid")
        self._last = DriverStatement(select(func.max(rowid)).select_from(table))
        self._made = DriverStatement(
            select(*(table.c[name] for name in self.returning)).where(rowid > bindparam("last_rowid"))
        )
        self._arrays = (insert_if_absent("postgresql", table, *keys) if skip_stored else pg_insert(table)).from_select(
            self.columns, unnested(table, self.columns)
        )
        if self.returning:
            self._arrays = self._arrays.returning(*(table.c[name] for name in self.returning))
        self._binary: tuple[str, _Compiled] | None = None
        self._rows: _Compiled | None = None

    @functools.cached_property
    def _next_ids(self) -> DriverStatement:
        """PostgreSQL's `count` next values of the table's id sequence; built for the tables
        whose ids are reserved (an id of text has no sequence). The sequence is found once,
        in a materialized CTE: as an argument of nextval, pg_get_serial_sequence would look it
        up in the catalog for every value (1,000 ids took 4-6 ms, now 1)."""
        found = func.pg_get_serial_sequence(self.table.name, "id").cast(REGCLASS).label("seq")
        sequence = select(found).cte("sequence").prefix_with("MATERIALIZED", dialect="postgresql")
        series = func.generate_series(1, bindparam("count", type_=Integer)).table_valued("n")
        return DriverStatement(select(func.nextval(sequence.c.seq)).select_from(sequence).join(series, true()))

    def reserve_ids(self, connection: Connection, count: int) -> list[int]:
        """`count` ids, ascending, for rows this transaction inserts next (with their `id`
        given): a row is then inserted whole, so that its id can be written into other rows
        first. PostgreSQL: from the table's sequence (an id left unused is a gap); SQLite: those
        past the largest rowid, as SQLite would number them: the write transaction holds
        SQLite's lock, so nobody else inserts before this transaction's next insert."""
        if count <= 0:
            return []
        if connection.dialect.name == "postgresql":
            return sorted(id for (id,) in self._next_ids.execute(connection, {"count": count}))
        last = self._last.execute(connection)[0][0] or 0
        return list(range(last + 1, last + 1 + count))

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Insert `rows` (mappings of exactly the columns); the returning columns of those inserted."""
        if not rows:
            return []
        if connection.dialect.name == "postgresql":
            return self._execute_arrays(connection, rows)
        last = self._last.execute(connection)[0][0] if self.returning else None
        if self._rows is None:
            self._rows = _Compiled(self._one, connection, self.columns)
        driver_execute(connection, self._rows.sql, self._each_row(self._rows, rows), many=True)
        return self._made.execute(connection, {"last_rowid": last or 0}) if self.returning else []

    def _each_row(self, compiled: _Compiled, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """What `compiled.parameters` makes of each row, built a column at a time: a converted
        column (dates, times) converts each distinct value once (a conversion is pure, and a
        chunk's rows share their few days and their time of booking)."""
        columns: list[Sequence[Any]] = []
        for name in compiled.names:
            column = [row[name] for row in rows]
            convert = compiled.processors.get(name)
            if convert is not None:
                converted = {value: convert(value) for value in set(column)}
                column = [converted[value] for value in column]
            columns.append(column)
        return list(zip(*columns, strict=True))

    def send(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """`execute` for rows whose insert gives the caller nothing to read (no `returning`),
        without waiting for it: on PostgreSQL the statement goes to the server and the caller
        goes on while the server inserts (its answer, an error included, is read before the
        connection's next statement: `answers_later`, which the call must be inside); on
        SQLite, `execute`."""
        if self.returning:
            raise ValueError(f"a bulk insert into {self.table.name} returns rows: execute it")
        if connection.dialect.name != "postgresql":
            self.execute(connection, rows)
            return
        if not connection.info.get(_ANSWERS_LATER):
            raise RuntimeError("BulkInsert.send runs inside answers_later(connection)")
        if not rows:
            return
        if connection.info.get(_BEGIN_PENDING):  # the transaction's BEGIN goes with a statement read at once
            self.execute(connection, rows)
            return
        _sent_unanswered(connection, *self._arrays_statement(connection, rows))

    def _execute_arrays(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        return driver_execute(connection, *self._arrays_statement(connection, rows))

    def _arrays_statement(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> tuple[str, Any]:
        """PostgreSQL's insert of `rows` as one array a column: its SQL and its values."""
        if self._binary is None:
            compiled = _Compiled(self._arrays, connection, ())
            self._binary = (_PYFORMAT_TEXT.sub(r"%(\1)b", compiled.sql), compiled)
        sql, compiled = self._binary
        return sql, compiled.parameters({n: [row[n] for row in rows] for n in self.columns})


@contextmanager
def answers_later(connection: Connection) -> Iterator[None]:
    """A block in which `BulkInsert.send` may leave a statement's answer unread while the
    caller goes on (PostgreSQL; a no-op on SQLite). The answer is read before any other
    statement runs on the connection: the driver statements' own join it (`driver_execute`,
    `pipelined`), SQLAlchemy's, an ORM flush's included, read it first (`settle`); and at the
    block's end, before the transaction can commit. Wherever it is read, an error in it comes
    out as SQLAlchemy's, as from `driver_execute`. A block that raises has the answer read and
    its error dropped (its own exception says what went wrong), so the connection can roll back."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.info[_ANSWERS_LATER] = True
    try:
        with _settled_as_it_ends(connection):
            yield
    finally:
        connection.info.pop(_ANSWERS_LATER, None)


@contextmanager
def _settled_as_it_ends(connection: Connection) -> Iterator[None]:
    """What the block sent ahead on the connection read as it ends (`settle`): an error in it
    raised if the block went through; dropped if the block raised, whose own exception says
    what went wrong, so that the connection can roll back."""
    try:
        yield
    except BaseException:
        with suppress(DBAPIError):
            settle(connection)
        raise
    settle(connection)


_PYFORMAT_TEXT = re.compile(r"%\((\w+)\)s")


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def _no_checkpoint_on_commit(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # a thread does it (`_Checkpointer`)


_SQLITE_BEGIN = {"IMMEDIATE": "BEGIN IMMEDIATE", "DEFERRED": "BEGIN DEFERRED"}


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    dbapi_connection = connection.connection.dbapi_connection
    writer = dbapi_connection if isinstance(dbapi_connection, _SqliteConnection) else None
    if writer is not None and mode == "IMMEDIATE":
        writer.take_write_lock()
    try:
        cast(sqlite3.Connection, dbapi_connection).execute(_SQLITE_BEGIN[mode])  # SQLAlchemy's execute costs 10x
    except BaseException as error:
        if writer is not None:
            writer.give_back_write_lock()
        if isinstance(error, sqlite3.Error):  # as SQLAlchemy's execute would raise it ("database is locked")
            raise _driver_error(connection, error, _SQLITE_BEGIN[mode], None, None) from error
        raise


BEFORE_COMMIT = "hub.before_commit"  # Session.info key: the transaction's BeforeCommit


Check = Callable[[], object]  # reads what a BeforeCommit hook sent, and raises if it is wrong


class AfterCommit(NamedTuple):
    """What a `BeforeCommit` hook gives back when the server's own errors (a key, a constraint)
    are all the check its statements need, and something is to be done once the transaction
    has committed: `then`, outside the transaction, which reads what the statements answered
    (the message log's seal, when one is due). It runs only if the commit succeeded, and must
    not raise: the work and its record have committed by then."""

    then: Callable[[], object]


Hooked = Check | AfterCommit | None  # what a BeforeCommit hook gives back


class BeforeCommit:
    """Work a transaction runs on its connection just before it commits, added by the code
    that shares the transaction (the ledger's account moves that cannot be refused wait here,
    so that the rows every capture updates stay locked for as short a time as possible:
    hub.ledger.service; the idempotency key's answer; a SOAP exchange's answer record), and a
    place for that code's state. A Session of `Database.transaction()` has it as
    `session.info[BEFORE_COMMIT]`; every Session of one transaction has the same one.

    Each hook sends its statements (`DriverStatement.send`, nothing that reads at once) and
    gives back its `Check`, or None when the server's errors are check enough, or
    `AfterCommit`: on PostgreSQL all the hooks' statements go to the server in one round trip
    (`pipelined`), where they took one each; then each check reads its statements' answers,
    in the order the hooks were added. What they run can still fail: the transaction then
    rolls back, as if its block had raised. When no hook has a check and the transaction's
    BEGIN was the exchange's own (`Exchange.block`), its COMMIT goes in the same round trip
    (`run(commit=True)`): the rows the statements lock (the clearing account's, which every
    capture moves) are held for no round trip of their own, and the server's error, if any,
    means the COMMIT is never run (a pipeline skips what follows an error), so nothing is
    committed that a check would have refused."""

    def __init__(self) -> None:
        self._hooks: list[Callable[[Connection], Hooked]] = []
        self._hot: list[Callable[[Connection], Hooked]] = []
        self._after: list[Callable[[], object]] = []
        self.state: dict[str, Any] = {}

    def add(self, hook: Callable[[Connection], Hooked], *, hot: bool = False) -> None:
        """`hot`: the hook's statements lock rows that most transactions change (the coupon
        clearing account's totals, the message log's head): sent after the others' (in the
        order these were added), so that those rows stay locked for as little of the
        transaction as can be (PostgreSQL RedeemCoupon +2%, BENCHMARKS.md run 21)."""
        (self._hot if hot else self._hooks).append(hook)

    def run(self, connection: Connection, *, commit: bool = False) -> bool:
        """Sends every hook's statements and runs their checks. With `commit`, the COMMIT goes
        with the last hooks' statements when it can (see the class): returns whether it went."""
        while self._hooks or self._hot:  # a check may add hooks of its own: they run next
            hooks, self._hooks, self._hot = self._hooks + self._hot, [], []
            after, committed = sent_then_checked(connection, hooks, commit=commit)
            self._after += after
            if committed:
                return True
        return False

    def after_commit(self) -> None:
        """What the hooks left for after the commit (`AfterCommit`), in their order: for the
        code that committed the transaction to call, once it has."""
        after, self._after = self._after, []
        for then in after:
            then()


def sent_then_checked(
    connection: Connection, hooks: Sequence[Callable[[Connection], Hooked]], *, commit: bool = False
) -> tuple[list[Callable[[], object]], bool]:
    """Each hook sends its statements, all in one `pipelined()` block (on PostgreSQL one round
    trip); then each hook's check reads its answers, in the hooks' order. With `commit`, and
    no check among them, the transaction's COMMIT goes in the block too if the transaction's
    BEGIN was the exchange's (`_commits_with_the_last_statements`). Returns what the hooks left
    for after the commit (`AfterCommit`), and whether the COMMIT went."""
    checks: list[Check] = []
    after: list[Callable[[], object]] = []
    committed = False
    with pipelined(connection):
        for hook in hooks:
            hooked = hook(connection)
            if isinstance(hooked, AfterCommit):
                after.append(hooked.then)
            elif hooked is not None:
                checks.append(hooked)
        if commit and not checks and _commits_with_the_last_statements(connection):
            driver_execute(connection, "COMMIT", None)
            committed = True
    for check in checks:
        check()
    return after, committed


def _commits_with_the_last_statements(connection: Connection) -> bool:
    """Whether the transaction's COMMIT can go in the pipeline of its last statements: on
    PostgreSQL, when its BEGIN was the exchange's own (the driver in autocommit, `Exchange.block`)
    and was sent (a statement ran in it). psycopg then sends no COMMIT of its own: the server's
    transaction has ended, and SQLAlchemy's commit that follows only ends its own bookkeeping."""
    if connection.dialect.name != "postgresql" or connection.info.get(_BEGIN_PENDING):
        return False
    driver = connection.connection.driver_connection
    return bool(getattr(driver, "autocommit", False)) and connection.in_transaction()


class Exchange:
    """One SOAP exchange's database work on one connection, checked out once or kept from an
    exchange before (`Database.exchange()`). Every `transaction()` and `read()` of the
    exchange runs on it, one after the other, each in a transaction of its own, except:

    - an operation that changes state (`hold_next()` after the request's record): the
      business work's transaction is left open when its block ends, and `finish` adds the
      answer's record to it and commits both: the effect and the record of what the caller
      was told commit together or not at all. A block that raises rolls back what is held.

    So an exchange has at most two transactions: the request's record, then the business
    work (with the answer's record when it changes state). On SQLite a held transaction
    begins IMMEDIATE, as any writer's (a deferred read cannot safely become a writer). A read
    has no transaction of its own, no BEGIN or COMMIT: each statement sees the database as of
    its own start, as under PostgreSQL's READ COMMITTED a transaction or none would show it
    (on PostgreSQL they were two round trips for nothing); a statement SQLAlchemy runs itself
    (an ORM query) begins one, DEFERRED on SQLite, which takes no write lock, committed at the
    block's end. A `snapshot()` read, which must see one moment throughout, keeps its own. A
    write's BEGIN goes to the server with the write's first statement, on the driver
    (`driver_execute`) or SQLAlchemy's (`_before_statement`): in a pipeline, in the
    same round trip, where psycopg's own BEGIN would take one of its own."""

    def __init__(self, db: Database, kept: Kept | None = None) -> None:
        self.db = db
        self._connection = kept.connection if kept is not None else None  # one an exchange before kept
        self._running = False  # a block runs on the connection now
        self._held: RootTransaction | None = None
        self._hold_next = False
        self._autocommit = kept.autocommit if kept is not None else False  # PostgreSQL: set to autocommit now
        self._before_commit = BeforeCommit()  # of the transaction open (or next) on the connection

    @property
    def holding(self) -> bool:
        """Whether business work waits, uncommitted, for the answer record."""
        return self._held is not None

    def hold_next(self, hold: bool = True) -> None:
        """The next block's transaction is held for `finish` (or, `hold=False`, it is not: the
        business work never began, and the answer's record commits on its own)."""
        self._hold_next = hold

    def takes(self) -> bool:
        """Whether a new block can run here: not while another one runs on the connection
        outside a held transaction (that nested block gets a connection of its own, as before)."""
        return not self._running or self._held is not None

    @contextmanager
    def block(self, write: bool, snapshot: bool = False, autocommit: bool = False) -> Iterator[Connection]:
        """One block of work on the exchange's connection: its own transaction, committed at
        its end, or held (after `hold_next()`), or joined to the one held; a read's, and on
        PostgreSQL one asked for `autocommit` (`Database.autocommitted`), none: each statement
        on its own (on PostgreSQL in autocommit)."""
        connection = self._connect()
        joined, running = self._held, self._running
        began: RootTransaction | None = None
        if joined is None:
            autocommit = autocommit and not self.db.is_sqlite  # SQLite: a write's transaction (Database.autocommitted)
            transactional = (write and not autocommit) or snapshot or self._hold_next
            if self.db.is_sqlite:
                connection.execution_options(sqlite_begin="IMMEDIATE" if transactional else "DEFERRED")
            else:
                # A write's BEGIN goes with its first statement (`_before_statement`): the
                # connection stays in autocommit, where psycopg sends no BEGIN of its own (in a
                # pipeline it would wait for BEGIN's answer first: a round trip).
                autocommitted = not transactional or not snapshot
                if self._autocommit != autocommitted:  # switched on the client, no round trip
                    settle(connection)  # psycopg switches only a connection with nothing under way
                    self._autocommit = autocommitted
                    connection.execution_options(isolation_level="AUTOCOMMIT" if autocommitted else READ_COMMITTED)
                if transactional and autocommitted:
                    connection.info[_BEGIN_PENDING] = True
            if transactional:
                began = connection.begin()
            else:  # a read, or PostgreSQL's autocommit: each statement on its own (`_NO_TRANSACTION`)
                connection.info[_NO_TRANSACTION] = True
        self._running = True
        try:
            yield connection
        except BaseException:
            self._abandon()
            raise
        finally:
            self._running = running
            if joined is None and began is None:
                connection.info.pop(_NO_TRANSACTION, None)
        if joined is None:
            if began is None:
                if (begun := connection.get_transaction()) is not None:  # by SQLAlchemy's own execute
                    self._commit(begun).after_commit()
            elif self._hold_next:
                self._held, self._hold_next = began, False
            else:
                self._commit(began).after_commit()

    @contextmanager
    def session(self, write: bool, snapshot: bool = False) -> Iterator[Session]:
        """`block` with an ORM session on it, for domain code; flushed before the block ends."""
        with self.block(write, snapshot) as connection:
            session = Session(
                bind=connection,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
                info={BEFORE_COMMIT: self._before_commit},
            )
            try:
                yield session
                session.flush()
            finally:
                session.close()

    def finish(self, record: Callable[[Connection], Hooked]) -> None:
        """Adds the answer's record to the business work held (`holding`) and commits it all:
        `record` is the last `BeforeCommit` hook, its statements sent with the others' (and on
        PostgreSQL with the COMMIT, when no hook has a check)."""
        if self._held is None or self._connection is None:
            raise RuntimeError("Exchange.finish: no business work is held")
        held = self._held
        self._before_commit.add(record, hot=True)  # the log's head: the last row locked
        committed = self._commit(held)
        self._held = None  # what runs after the commit has transactions of its own
        committed.after_commit()

    def _commit(self, transaction: RootTransaction) -> BeforeCommit:
        """Runs what waits for the commit (`BeforeCommit`), then commits; on any failure the
        transaction rolls back and the error is raised. Returns the BeforeCommit that ran, for
        the caller to run what its hooks left for after the commit."""
        assert self._connection is not None
        before_commit = self._before_commit
        try:
            before_commit.run(self._connection, commit=True)
            settle(self._connection)
            transaction.commit()  # psycopg sends no COMMIT if none is due: none began, or it went with the hooks'
        except BaseException:
            self._abandon()
            raise
        finally:
            self._before_commit = BeforeCommit()
            _no_begin_pending(self._connection)
        return before_commit

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.invalidated:
            if self._connection is not None:
                self._connection.close()
            self._connection = self.db.engine.connect()
            self._autocommit = False
        return self._connection

    def _abandon(self) -> None:
        """A block raised: whatever the connection's transaction holds rolls back, and what
        waited for its commit is dropped."""
        self._held, self._hold_next = None, False
        self._before_commit = BeforeCommit()
        _no_begin_pending(self._connection)
        if self._connection is not None:
            with suppress(DBAPIError):  # the block's own exception says what went wrong
                settle(self._connection)
            if self._connection.in_transaction():
                self._connection.rollback()

    def close(self) -> Kept | None:
        """Ends the exchange: anything still held was never answered, so it rolls back. The
        connection is returned, to be kept for the next exchange (`_KeptConnections`), as the
        pool would hand it out: its transaction, if any, rolled back (the driver's too, and on
        SQLite with it the writers' lock, as the pool's reset does), no BEGIN pending. One that
        was lost goes back to the pool, which drops it, and so does one whose rollback fails:
        the exchange's outcome stands."""
        self._held = None
        connection, self._connection = self._connection, None
        if connection is None:
            return None
        if not connection.invalidated and not connection.closed:
            try:
                settle(connection)  # what was sent ahead and never read: an error in it is no one's now
            except DBAPIError:
                log.warning("a statement sent ahead in an exchange failed unread", exc_info=True)
            try:
                if connection.in_transaction():
                    connection.rollback()
                driver = connection.connection.driver_connection
                assert driver is not None  # a connection neither lost nor closed has its driver's
                driver.rollback()  # none open: nothing sent (sqlite3, psycopg)
                connection.info.pop(_BEGIN_PENDING, None)
                return Kept(connection, self._autocommit)
            except Exception:  # noqa: BLE001 - the connection's trouble, not the exchange's
                log.warning("a connection could not be rolled back after an exchange: dropped", exc_info=True)
                connection.invalidate()
        connection.close()
        return None


class Kept(NamedTuple):
    """A connection an exchange kept for the next one, and whether it is set to autocommit
    (PostgreSQL: `Exchange.block` switches it on the client as its blocks need)."""

    connection: Connection
    autocommit: bool


# Connections kept for the next exchanges of a process, at most: one a gthread worker thread
# (`hub serve --threads`' default). One exchange runs at a time, but one that lets the waiting
# ones in (`Database.let_waiting_exchanges_in`) keeps its connection meanwhile; exchanges beyond
# them check connections out of the pool, and the pool keeps room for what is not an exchange
# (the group commit).
KEPT_CONNECTIONS_MAX = 4


class _KeptConnections:
    """The connections exchanges keep from one to the next, rather than check one out of the
    pool and back for each: SQLAlchemy's checkout and checkin, and on PostgreSQL the reset of
    the connection's autocommit, cost 6% of a VerifyCoupon's CPU on SQLite and 12% on
    PostgreSQL (BENCHMARKS.md, run 20). Taken as an exchange begins (the last kept first),
    given back as it ends, at most `most`. On PostgreSQL one the server closed meanwhile (a
    restart) is dropped as it is taken, as the pool's checkout drops one (`_closed_by_server`),
    so a restart costs no request here either."""

    def __init__(self, is_sqlite: bool, most: int = KEPT_CONNECTIONS_MAX) -> None:
        self.is_sqlite = is_sqlite
        self.most = most
        self._kept: list[Kept] = []
        self._lock = threading.Lock()

    def take(self) -> Kept | None:
        while True:
            with self._lock:
                if not self._kept:
                    return None
                kept = self._kept.pop()
            if self._usable(kept.connection):
                return kept
            kept.connection.invalidate()  # its driver's connection closed, the pool's record made anew
            kept.connection.close()

    def give_back(self, kept: Kept) -> None:
        with self._lock:
            if len(self._kept) < self.most:
                self._kept.append(kept)
                return
        kept.connection.close()  # back to the pool

    def close(self) -> None:
        """Every connection kept back to the pool (`Database.dispose`)."""
        with self._lock:
            kept, self._kept = self._kept, []
        for k in kept:
            k.connection.close()

    def _usable(self, connection: Connection) -> bool:
        if connection.invalidated or connection.closed:
            return False
        return self.is_sqlite or not _closed_by_server(connection.connection.driver_connection)


class _Turns:
    """A process's exchanges, one at a time, in the order they came (`Database.exchange`):
    a thread that waits is handed the turn by the one before it, so no exchange waits for more
    than the ones that were waiting before it. (A plain lock lets whichever thread the
    scheduler wakes first take it, and an unlucky one waits on, in the tail of the latencies.)
    Reentrant: a thread that has the turn may take it again inside."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: deque[tuple[int, threading.Lock]] = deque()

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._lock:
            if self._owner is None or self._owner == me:
                self._owner, self._depth = me, self._depth + 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append((me, gate))
        try:
            gate.acquire()  # released when the turn is handed over: `_owner` is this thread by then
        except BaseException:  # interrupted while waiting (KeyboardInterrupt): out of the queue
            with self._lock:
                if (me, gate) in self._waiting:
                    self._waiting.remove((me, gate))
                    raise
            self.__exit__()  # it was handed over meanwhile: on to the next
            raise

    def let_waiting_in(self) -> None:
        """Held by this thread: handed to the threads waiting for it now, in their order, and
        taken back after them (a thread that comes meanwhile waits behind this one). Nothing
        when none waits."""
        me = threading.get_ident()
        with self._lock:
            if not self._waiting:
                return
            if self._owner != me:
                raise RuntimeError("only the thread that has the turn can let others have it")
            depth, gate = self._depth, threading.Lock()
            gate.acquire()
            self._waiting.append((me, gate))
            self._owner, next_gate = self._waiting.popleft()
            self._depth = 1
            next_gate.release()
        try:
            gate.acquire()  # handed back by the last of them: `_owner` is this thread again
        except BaseException:  # interrupted (KeyboardInterrupt): the turn is taken back all the
            gate.acquire()  # same, so that the caller's exchange ends with it as it began
            raise
        finally:
            with self._lock:
                self._depth = depth

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth:
                return
            if self._waiting:
                self._owner, gate = self._waiting.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None


class Database:
    """One per process. `transaction()` for anything that writes, `read()` for queries."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = _make_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader_engine = self.engine.execution_options(sqlite_begin="DEFERRED") if self.is_sqlite else self.engine
        self._reader = sessionmaker(self._reader_engine, expire_on_commit=False)
        self._autocommit_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._exchange: ContextVar[Exchange | None] = ContextVar(f"exchange-{id(self)}", default=None)
        self._turns = _Turns()
        self._kept = _KeptConnections(self.is_sqlite)
        self._checkpointer: _Checkpointer | None = None

    @contextmanager
    def exchange(self) -> Iterator[Exchange]:
        """One connection for everything the block does through this Database (see Exchange).

        A process's exchanges take turns, in the order they came (`_Turns`): one runs at a
        time, its other threads wait for it (meanwhile they read bodies, sign answers, log).
        A thread that holds locks every other writer needs (SQLite's write lock; on PostgreSQL
        the rows every redeem or every record locks: the coupon clearing account's totals, the
        message log's head) otherwise loses the GIL to its process's other threads each time
        a statement returns, for up to the interpreter's switch interval (5 ms), while every
        other process's writers wait for those locks. Taking turns lets them go as soon as
        the work is done: SQLite since BENCHMARKS.md run 8; PostgreSQL since run 28
        (RedeemCoupon +18%, p99 62 -> 44 ms; VerifyCoupon's p99 53 -> 40 ms). A caller reads a
        request's body before it begins the exchange, so a slow client holds a thread, not the
        turn. An exchange's round trips are its process's waits: with the server on another
        machine, run more workers than cores (docs/deployment.md), so that one worker's waits
        are another's CPU.

        An exchange's connection is kept for the next one (`_KeptConnections`), not given back
        to the pool: one runs at a time, so mostly one connection a process."""
        with self._turns:
            exchange = Exchange(self, self._kept.take())
            token = self._exchange.set(exchange)
            try:
                yield exchange
            finally:
                self._exchange.reset(token)
                kept = exchange.close()
                if kept is not None:
                    self._kept.give_back(kept)

    def in_exchange(self) -> bool:
        """Whether this thread runs inside an `exchange()` (has its process's turn)."""
        return self._exchange.get() is not None

    def let_waiting_exchanges_in(self) -> None:
        """Inside an exchange: the process's exchanges waiting for the turn now have theirs,
        one after the other, then this one goes on (with nothing open on its connection
        meanwhile: its transactions have ended). For SQLite's batches of request records
        (MessageLog.send_claimed)."""
        self._turns.let_waiting_in()

    def transaction(self) -> AbstractContextManager[Session]:
        """Commit on success, roll back everything on any exception. Inside an exchange:
        on its connection, and held for the answer record after `Exchange.hold_next()`."""
        return self._session(write=True)

    def read(self) -> AbstractContextManager[Session]:
        return self._session(write=False)

    def writing(self) -> AbstractContextManager[Connection]:
        """`transaction()` without the ORM: a Connection, for the Core statements every SOAP
        exchange runs (the message log, the replay cache), which need no Session's upkeep."""
        return self._core(write=True)

    def autocommitted(self) -> AbstractContextManager[Connection]:
        """`writing()` for work that is one statement on PostgreSQL: in autocommit, each
        statement its own transaction, with no BEGIN or COMMIT to wait for (the request's
        record with its replay-cache row: hub.audit.messagelog.MessageLog.send_claimed).
        On SQLite, where such work takes several statements, a write transaction as `writing()`."""
        return self._core(write=True, autocommit=True)

    def reading(self) -> AbstractContextManager[Connection]:
        """`read()` without the ORM: a Connection, for the Core queries of the reads SOAP
        exchanges make most (VerifyCoupon's coupon)."""
        return self._core(write=False)

    def _core(self, write: bool, autocommit: bool = False) -> AbstractContextManager[Connection]:
        exchange = self._exchange.get()
        if exchange is not None and exchange.takes():
            return exchange.block(write, autocommit=autocommit)  # not wrapped in a second context manager: each costs
        return self._core_alone(write, autocommit)

    @contextmanager
    def _core_alone(self, write: bool, autocommit: bool) -> Iterator[Connection]:
        """`_core` outside an exchange: a connection of the pool's, in a transaction of its own."""
        engine = self._autocommit_engine if autocommit else self.engine if write else self._reader_engine
        # nothing sent ahead outlives the block: it is read before the commit, or the connection goes back
        with engine.begin() as connection, _settled_as_it_ends(connection):
            yield connection

    def snapshot(self) -> AbstractContextManager[Session]:
        """`read()` in a transaction it begins, which sees one snapshot of the database throughout:
        PostgreSQL's REPEATABLE READ (a SQLite transaction is one snapshot already)."""
        return self._session(write=False, snapshot=True)

    @contextmanager
    def _session(self, write: bool, snapshot: bool = False) -> Iterator[Session]:
        exchange = self._exchange.get()
        if exchange is not None and exchange.takes():
            with exchange.session(write, snapshot) as session:
                yield from self._begun(session, snapshot)
            return
        with (self._writer if write else self._reader)() as session, session.begin():
            before_commit = session.info[BEFORE_COMMIT] = BeforeCommit()
            yield from self._begun(session, snapshot)
            before_commit.run(session.connection())
        before_commit.after_commit()

    def _begun(self, session: Session, snapshot: bool) -> Iterator[Session]:
        if snapshot and not self.is_sqlite:
            session.execute(_REPEATABLE_READ)  # first in its transaction, as PostgreSQL requires
        yield session

    def checkpoint_in_background(self, every_s: float = CHECKPOINT_EVERY_S) -> None:
        """SQLite (a file): this process's connections no longer copy the WAL back into the
        database in the commit that crosses SQLite's threshold (1,000 pages), which did it, and
        waited for the disk, while holding the writers' lock and its process's turn: every
        writer of every process waited too. A thread does it every `every_s` (`_Checkpointer`).
        For `hub serve`'s workers (hub.app.Hub.wsgi); a no-op elsewhere and when running."""
        database = make_url(self.url).database
        if not self.is_sqlite or database in (None, "", ":memory:") or self._checkpointer is not None:
            return
        event.listen(self.engine, "connect", _no_checkpoint_on_commit)
        self._kept.close()
        self.engine.dispose()  # the connections pooled so far are made again, with it
        self._checkpointer = _Checkpointer(database, every_s)
        self._checkpointer.start()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stopping.set()
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        self._kept.close()
        self.engine.dispose()
