"""`hub bank settle|send|settlements|unreconciled|reconcile`: the operator's commands,
text or --json, errors as one line."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from hub.app import cli
from tests.support.factories import hub_user
from tests.support.settlement import DAY, E2E, settled


@pytest.fixture
def run(config):
    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", str(config.config_dir), "bank", *args])

    return invoke


def test_settle_send_and_report(hub, clock, bank, run):
    settled_run = settled(hub, clock, offices=("1465", "1261"))
    assert settled_run.created == 4

    again = run("settle", "--date", DAY.isoformat(), "--json")
    assert again.exit_code == 0, again.stderr
    data = json.loads(again.stdout)
    assert (data["day"], data["created"]) == (DAY.isoformat(), 0)
    assert {s["office"]: (s["status"], s["amount"]) for s in data["settlements"]} == {
        "1465": ("PENDING", "161.50"),
        "1261": ("PENDING", "161.50"),
        "3064": ("CARRIED", "0.00"),
        "0264": ("CARRIED", "0.00"),
    }

    sent = run("send")
    assert sent.exit_code == 0, sent.stderr
    assert sent.stdout.strip() == "3 sent, 0 refused, 0 to retry later, 0 given up"

    report = run("settlements", "--status", "SENT", "--json")
    rows = json.loads(report.stdout)
    assert sorted(r["end_to_end_id"] for r in rows) == ["HUB-1261-20260310-1", E2E]
    assert all(r["bank_reference"].startswith("FB") for r in rows)

    text = run("settlements", "--office", "1465")
    assert text.stdout.startswith(f"{DAY.isoformat()}  1465  SENT           161.50  {E2E}")

    waiting = run("unreconciled", "--days", "0", "--json")
    assert sorted(r["end_to_end_id"] for r in json.loads(waiting.stdout)) == ["HUB-1261-20260310-1", E2E]


def test_a_statement_imported_by_file_books_the_settlements(hub, clock, bank, run, tmp_path):
    settled(hub, clock)
    run("send")
    statement = tmp_path / "wyciag.xml"
    statement.write_bytes(bank.statement(DAY + timedelta(days=1)))
    imported = run("import", str(statement))
    assert imported.exit_code == 0, imported.stderr
    assert "1 imported" in imported.stdout and "0 unmatched" in imported.stdout
    assert [r["status"] for r in json.loads(run("settlements", "--office", "1465", "--json").stdout)] == ["BOOKED"]
    reconciled = run("reconcile", "--json")
    assert json.loads(reconciled.stdout) == {"booked": [], "returned": [], "mismatches": []}
    assert json.loads(run("unreconciled", "--days", "0", "--json").stdout) == []


def test_send_reports_what_waits_for_a_retry(hub, clock, bank, run):
    settled(hub, clock)
    bank.control(mode="down")
    sent = run("send", "--json")
    assert sent.exit_code == 0
    data = json.loads(sent.stdout)
    assert (data["sent"], data["retried"], data["failed"]) == (1, 1, 0)
    assert "HTTP 503" in data["errors"][0]


def test_errors_are_one_line(hub, clock, run):
    clock.advance(days=1)
    bad = run("settle", "--date", "10.03.2026")
    assert (
        bad.exit_code == 2
        and bad.stderr.count("\n") == 1
        and "is not a day written YYYY-MM-DD, like 2026-03-10" in bad.stderr
    )
    hub_user(hub, "kierownik", "supervisor", office_code="1465")
    refused = run("settle", "--date", DAY.isoformat(), "--as", "kierownik")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1 and "NotAuthorized" in refused.stderr
    unknown = run("settlements", "--status", "LOST")
    assert unknown.exit_code == 2 and unknown.stderr.count("\n") == 1
    assert json.loads(run("settlements", "--json").stdout) == []
