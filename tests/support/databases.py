"""The PostgreSQL server the tests share (each test process makes its own database on it)."""

from __future__ import annotations

import os
import time

from sqlalchemy import URL, create_engine, text

from hub.tables import metadata

PG_ADMIN_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_problem() -> str | None:
    """Why the shared server cannot be used, or None when it answers."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as e:  # noqa: BLE001 - any failure means unreachable
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"


# Every hub table emptied with DELETE, the referencing ones first, foreign keys unchecked
# (`session_replication_role`, the tests' user is a superuser), and every sequence started
# over: one round trip. TRUNCATE gives each table, index and TOAST table a new file, ~110 ms
# for the hub's 29 tables, before each of a thousand tests; these DELETEs of a test's few
# rows take a few ms.
_EMPTY = "; ".join(
    [
        "SET LOCAL session_replication_role = replica",
        *(f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)),
        "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'",
    ]
)


def empty_pg(url: str) -> None:
    """Every hub table of the database at `url` emptied, its identities started over."""
    engine = create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql(_EMPTY)
    engine.dispose()


def terminate_backend(url: str | URL, pid: int) -> None:
    """The server ends session `pid` of the database at `url`, as a restart ends them all;
    asked from an engine of its own (the hub's pool is left as it is) and waited for until
    the session is gone."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 5
            while c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} did not end"
                time.sleep(0.02)
    finally:
        engine.dispose()
