"""/healthz and /readyz as a load balancer sees them: ready, and not ready with the
failing check named (database unreachable or dropped, message log not writable)."""

from __future__ import annotations

import pytest

from tests.support.factories import config_copy
from tests.support.ops import ReadOnlyMessageLog, get, readiness
from tests.support.ports import refused_port


@pytest.fixture
def serve_config(tmp_path, serve):
    """Serve a hub on the shipped config pointed at `database_url`; returns its base URL."""
    made = []

    def start(database_url: str) -> str:
        made.append(1)
        return serve(config_copy(tmp_path / f"hub{len(made)}", database_url))

    return start


@pytest.fixture
def read_only_log(running_hub):
    guard = ReadOnlyMessageLog(running_hub.hub.db)
    yield guard
    guard.restore()


def test_a_running_hub_is_alive_and_ready(running_hub):
    status, body, _ = get(running_hub.url + "/healthz")
    assert (status, body) == (200, b"ok\n")
    status, report = readiness(running_hub.url)
    assert status == 200 and report["ready"] is True
    assert {name: check["ok"] for name, check in report["checks"].items()} == {
        "database": True,
        "signing": True,
        "message_log": True,
    }


def test_a_database_on_a_closed_port_makes_the_hub_not_ready(serve_config):
    url = serve_config(f"postgresql+psycopg://postgres@127.0.0.1:{refused_port()}/hub")
    status, report = readiness(url)
    assert status == 503 and report["ready"] is False
    assert report["failing"] == ["database", "message_log"]
    assert report["checks"]["database"]["detail"].startswith("unreachable: ")
    assert report["checks"]["signing"]["ok"] is True
    assert get(url + "/healthz")[0] == 200  # alive: restarting it would not help


def test_a_dropped_database_makes_the_hub_not_ready(serve_config, tmp_path, pg_database_url):
    """A PostgreSQL database that does not exist (dropped), and an SQLite file that is gone:
    neither is created by the probe."""
    from sqlalchemy.engine import make_url

    dropped = make_url(pg_database_url).set(database="hub_dropped_never_created").render_as_string(hide_password=False)
    missing = tmp_path / "gone" / "hub.sqlite3"
    for database_url in (dropped, f"sqlite:///{missing}"):
        status, report = readiness(serve_config(database_url))
        assert (status, report["failing"][0]) == (503, "database"), report
    assert not missing.exists()


def test_an_unwritable_message_log_makes_the_hub_not_ready(running_hub, read_only_log):
    read_only_log.apply()
    status, report = readiness(running_hub.url)
    assert (status, report["failing"]) == (503, ["message_log"])
    assert "read-only" in report["checks"]["message_log"]["detail"]
    read_only_log.restore()
    assert readiness(running_hub.url)[0] == 200


def test_the_readiness_probe_writes_nothing(running_hub):
    from hub.audit.messagelog import MessageLog

    for _ in range(3):
        assert readiness(running_hub.url)[0] == 200
    report = MessageLog(running_hub.hub.db).verify()
    assert (report.ok, report.records) == (True, 0)
