"""The `hub` command: the issue's acceptance run, JSON output, and one clear
line on stderr with a non-zero exit for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.factories import NIP


def companies_json(run):
    return {c["nip"]: c for c in json.loads(run("company", "list", "--json").stdout)}


def test_acceptance_issue_six_then_a_seventh_is_refused(run):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "przelew 2026-03-10")
    issued = json.loads(
        run("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "6", "--json").stdout
    )
    assert issued["total_held"] == "969.00" and len(issued["coupons"]) == 6
    company = companies_json(run)[NIP]
    assert (company["available"], company["held"], company["balance"]) == ("31.00", "969.00", "1000.00")

    seventh = run("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "1", ok=False)
    assert seventh.exit_code == 1
    lines = seventh.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "InsufficientFunds" in lines[0] and "31.00" in lines[0] and "161.50" in lines[0]
    assert companies_json(run)[NIP]["held"] == "969.00"


@pytest.mark.parametrize(
    "args,expected",
    [
        (["company", "add", "--nip", "5260250275", "--name", "X"], "NIP '5260250275' is not valid"),
        (["coupons", "issue", "--nip", NIP, "--case-type", "NOPE", "--count", "1"], "Unknown case type 'NOPE'"),
        (
            ["coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "0"],
            "Count must be 1 to 1000, got 0",
        ),
        (
            ["coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "1001"],
            "Count must be 1 to 1000, got 1001",
        ),
        (["company", "credit", "--nip", NIP, "--amount", "10.005", "--reason", "x"], "at most 2 decimal places"),
    ],
)
def test_bad_input_gives_one_specific_line_and_changes_nothing(run, args, expected):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "500.00", "--reason", "funding")
    before = companies_json(run)
    result = run(*args, ok=False)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert any(expected in line for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert companies_json(run) == before


def test_broken_toml_and_wrong_types_name_file_and_field(run, config_dir):
    hub_toml = config_dir / "hub.toml"
    original = hub_toml.read_text()
    hub_toml.write_text(original.replace("batch_count_max = 1000", 'batch_count_max = "ten"'))
    result = run("company", "list", ok=False)
    assert result.exit_code == 1
    assert "hub.toml" in result.stderr and "batch_count_max" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    hub_toml.write_text(original + "\n[oops\n")
    result = run("config", "check", ok=False)
    assert result.exit_code == 1 and "hub.toml: line" in result.stderr


def test_config_check_passes_on_the_shipped_config(run):
    assert "ok:" in run("config", "check").stdout


def test_coupons_expire_is_idempotent(run):
    run("init")
    first = json.loads(run("coupons", "expire", "--json").stdout)
    assert first == {"expired": 0, "released": "0.00"}


def test_a_command_imports_only_the_libraries_it_uses(config_dir):
    """The composition root imports an adapter's library (zeep, reportlab, spyne) when a command
    first needs it: `hub ledger verify` starts without them (they took 0.4 of its 1.3 s)."""
    heavy = "zeep", "reportlab", "spyne"
    probe = (
        "import sys\n"
        "from hub.app import cli\n"
        "try:\n"
        "    cli(sys.argv[1:], prog_name='hub')\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        f"print('imported:' + ','.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(heavy)!r})))\n"
    )

    def imported(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, "--config", str(config_dir), *args], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1].removeprefix("imported:")

    assert imported("init") == ""
    assert imported("ledger", "verify") == ""
    assert imported("--version") == ""


def test_the_installed_command_runs(config_dir):
    """The console script itself, as an admin types it."""
    hub_bin = [sys.executable, "-c", "from hub.app import main; main()"]
    result = subprocess.run([*hub_bin, "--config", str(config_dir), "init"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [*hub_bin, "--config", str(config_dir), "company", "list", "--json"], capture_output=True, text=True
    )
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    bad = subprocess.run(
        [*hub_bin, "--config", str(config_dir), "company", "add", "--nip", "1", "--name", "x"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("hub: InvalidRequest: NIP '1' is not valid")
