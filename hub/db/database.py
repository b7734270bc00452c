"""Engine and transactions for SQLite (default) and PostgreSQL (production, CI).

Writers must never interleave on money. PostgreSQL: READ COMMITTED with row
locks (`SELECT ... FOR UPDATE`, taken in a fixed order by the ledger), and
unique constraints as the last word. SQLite: WAL, and every writing
transaction starts with `BEGIN IMMEDIATE`, so writers queue on the database
lock instead of failing at commit; readers use a deferred BEGIN and never wait.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

SQLITE_BUSY_TIMEOUT_S = 60


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLite paths get their folder created."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def _make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,  # a PostgreSQL restart costs one failed check, not a failed request
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


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
        return f"the database {shown} lacks tables of this hub (not initialised, or older than this version): run `hub init`"
    if isinstance(error, OperationalError):
        # psycopg: 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
        reason = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
        reason = reason[:1].lower() + reason[1:]
        return f"cannot connect to {shown}: {reason}"
    return f"database {shown}: {first}"


_UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a relation that does not exist


@functools.cache
def insert_if_absent(
    dialect: str, table: Table, *keys: str, returning: str | None = None
) -> Insert:
    """`INSERT ... ON CONFLICT (keys) DO NOTHING` in `dialect` (`postgresql` or `sqlite`),
    built once per table; no keys: a conflict on any unique key. A row already there is
    left as it is and the transaction stays usable; on PostgreSQL an insert racing another
    transaction's uncommitted row waits for it. With `returning`, a row comes back only
    when this insert made it (also for several rows given at once)."""
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(
        table
    ).on_conflict_do_nothing(index_elements=list(keys) or None)
    return statement.returning(table.c[returning]) if returning else statement


def _sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def _sqlite_begin(connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One per process. `transaction()` for anything that writes, `read()` for queries."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = _make_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        reader_bind = (
            self.engine.execution_options(sqlite_begin="DEFERRED")
            if self.is_sqlite
            else self.engine
        )
        self._reader = sessionmaker(reader_bind, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back everything on any exception."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
