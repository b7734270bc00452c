"""Test wiring: every database test runs on SQLite and again on PostgreSQL.

PostgreSQL is the server at $HUB_TEST_PG_URL (default 127.0.0.1:5432, user
postgres). Each test process makes its own database and drops it at the end.
If the server is unreachable the PostgreSQL half is skipped on a developer's
machine, and the whole run fails when CI=true: CI never skips it silently.
The helpers the tests share are in tests/support/; the fixtures here.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import create_engine, text

from hub.db.database import Database
from hub.db.migrate import upgrade
from hub.users import service as user_service
from tests.support import IN_CI, SHIPPED_CONFIG
from tests.support.cli import hub_command
from tests.support.clock import FakeClock
from tests.support.databases import PG_ADMIN_URL, empty_pg, pg_problem
from tests.support.factories import config_copy, funded_company, issue
from tests.support.wsgi import serving

_PG_PROBLEM = pg_problem()


def pytest_sessionstart(session: pytest.Session) -> None:
    if _PG_PROBLEM and IN_CI:
        pytest.exit(f"PostgreSQL at {PG_ADMIN_URL} is unreachable and CI=true: {_PG_PROBLEM}", returncode=3)


def pytest_report_header(config) -> str:
    return f"postgresql: {'UNREACHABLE: ' + _PG_PROBLEM if _PG_PROBLEM else PG_ADMIN_URL}"


def pytest_terminal_summary(terminalreporter) -> None:
    """What the sized tests measured (`record_property("measured", ...)`: the soak's request
    rate, the big PDF's and statement's memory), shown at the end of every run, CI's too."""
    lines = [
        value
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "measured"
    ]
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.line(line)


# -- no network beyond this machine (as zeep's own tests do) ------------------

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        raise RuntimeError(f"tests may not reach {address}: only this machine")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# -- passwords hashed with argon2id at its cheapest ------------------------------

# The hub's own parameters (64 MiB, 3 passes) cost ~0.1 s a hash, and the suite hashes
# thousands of passwords: every test but those marked `production_hasher` runs with
# argon2id at its minimum. `hub serve` processes the tests start keep the real ones.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(request, monkeypatch):
    if request.node.get_closest_marker("production_hasher") is None:
        monkeypatch.setattr(user_service, "PASSWORD_HASHER", CHEAP_HASHER)


# -- databases ------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database_url():
    if _PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A migrated, empty database: a copy of the SQLite template, or the
    process's PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database_url")
    empty_pg(url)
    return url


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(pg_database_url):
    """`db` on PostgreSQL alone, for what only PostgreSQL does (a server that drops a
    connection, pipelines): the process's database emptied."""
    empty_pg(pg_database_url)
    database = Database(pg_database_url)
    yield database
    database.dispose()


# -- time and config --------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture(scope="session")
def shipped_config():
    from hub.config import load_config

    return load_config(SHIPPED_CONFIG)


@pytest.fixture
def hub(shipped_config, db, clock):
    from hub.app import Hub

    return Hub(shipped_config, clock=clock, db=db)


# -- the `hub` command -------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path, db_url) -> Path:
    """The shipped config copied for this test, on the test's database."""
    return config_copy(tmp_path, db_url)


@pytest.fixture
def run(config_dir):
    """`run("coupons", "list", ...)`: `hub_command` on `config_dir` (or `config=`)."""

    def run(*args: str, ok: bool = True, input: str | None = None, config: Path | None = None):
        return hub_command(config or config_dir, *args, ok=ok, input=input)

    return run


# -- a real hub over HTTP ------------------------------------------------------


@pytest.fixture
def running_hub(tmp_path, db_url):
    """The shipped config on the test's database, served on 127.0.0.1 in a thread."""
    with serving(config_copy(tmp_path, db_url)) as running:
        yield running


@pytest.fixture
def coupon(running_hub):
    """One issued REJ_NEW coupon of a funded company (500.00 PLN)."""
    funded_company(running_hub.hub, 500_00)
    return issue(running_hub.hub, 1).coupons[0].coupon_id
