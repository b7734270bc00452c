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


def truncate_pg(url: str) -> None:
    """Every hub table of the database at `url` emptied, identities restarted."""
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
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
