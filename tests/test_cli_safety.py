"""Operator safety (issue 16): every command checks its files before it books anything, says
what was done when a later step fails, takes ASCII digits only, and answers every mistake
with one line on stderr, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.app import cli
from hub.cli.main import EXIT_PARTLY_DONE, EXIT_READER_GONE, EXIT_USAGE
from tests.support.factories import NIP, config_copy

FULLWIDTH_NIP = "".join(chr(0xFF10 + int(d)) for d in NIP)  # "５２６０２５０２７４"
ARABIC_100 = "\u0661\u0660\u0660"  # "١٠٠"


def companies(run) -> dict:
    return {c["nip"]: c for c in json.loads(run("company", "list", "--json").stdout)}


def one_line(result, status: int) -> str:
    assert result.exit_code == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def funded(run):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "funding")


# --- 1. check before changing ---------------------------------------------------------------


def test_issue_with_a_pdf_in_a_missing_folder_is_refused_before_any_money_is_held(run, funded, tmp_path):
    before = companies(run)
    line = one_line(
        run(
            *f"coupons issue --nip {NIP} --case-type REJ_NEW --count 2 --pdf".split(),
            str(tmp_path / "missing-dir" / "batch.pdf"),
            ok=False,
        ),
        EXIT_USAGE,
    )
    assert "--pdf" in line and f"folder {tmp_path / 'missing-dir'} does not exist" in line
    assert companies(run) == before


def test_a_pdf_named_dash_is_refused_not_written_as_a_file_named_dash(run, funded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = companies(run)
    line = one_line(
        run(*f"coupons issue --nip {NIP} --case-type REJ_NEW --count 1 --pdf -".split(), ok=False), EXIT_USAGE
    )
    assert "--pdf" in line and "standard output" in line
    assert companies(run) == before
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["coupons", "pdf", "--batch", "B", "--out", "{missing}/x.pdf"],
        ["coupons", "pdf", "--batch", "B", "--out", "{folder}"],
        [
            "cashdesk",
            "report",
            "--office",
            "1465",
            "--desk",
            "01",
            "--date",
            "2026-03-10",
            "--out",
            "{missing}/raport.pdf",
        ],
        ["cashdesk", "receipt", "P", "--out", "{missing}/kp.pdf"],
        ["report", "coupons", "--out", "{folder}"],
        ["portal", "keygen", "--out", "{missing}/portal.key"],
        ["fk", "export", "--office", "1465", "--date", "2026-03-10", "--out", "{file}"],
        ["backup", "--out", "{missing}/hub.sqlite3"],
        ["backup", "--out", "-"],
    ],
)
def test_every_out_is_checked_when_the_command_line_is_read(run, tmp_path, args):
    (tmp_path / "a-file").write_text("x")
    places = {"missing": str(tmp_path / "missing-dir"), "folder": str(tmp_path), "file": str(tmp_path / "a-file")}
    line = one_line(run(*[a.format(**places) for a in args], ok=False), EXIT_USAGE)
    assert "--out" in line


def test_a_pdf_that_fails_after_the_batch_is_held_names_the_batch_and_how_to_write_it_again(run, funded, tmp_path):
    """A user who may issue coupons but not read them: the batch is held, its PDF refused.
    The operator is told the batch id and the command that writes the PDF, and must not retry."""
    run("role", "add", "--company", NIP, "--name", "issue-only", "--permission", "coupons:issue")
    run("user", "add", "--login", "ola", "--company", NIP, "--role", "issue-only")
    result = run(
        *f"coupons issue --nip {NIP} --case-type REJ_NEW --count 2 --as ola --pdf".split(),
        str(tmp_path / "batch.pdf"),
        ok=False,
    )
    line = one_line(result, EXIT_PARTLY_DONE)
    batch_id = line.split("batch ", 1)[1].split(" ", 1)[0]
    assert "323.00 PLN held" in line and f"hub coupons pdf --batch {batch_id} --out FILE" in line
    assert companies(run)[NIP]["held"] == "323.00"
    run("coupons", "pdf", "--batch", batch_id, "--out", str(tmp_path / "batch.pdf"))
    assert (tmp_path / "batch.pdf").read_bytes().startswith(b"%PDF")


# --- 3. ASCII digits only --------------------------------------------------------------------


def test_a_fullwidth_nip_does_not_register_a_second_company(run, funded):
    line = one_line(run("company", "add", "--nip", FULLWIDTH_NIP, "--name", "Again", ok=False), 1)
    assert "InvalidRequest" in line and "is not valid" in line
    assert list(companies(run)) == [NIP]


@pytest.mark.parametrize(
    "args,option",
    [
        (["company", "credit", "--nip", NIP, "--amount", ARABIC_100, "--reason", "x"], "--amount"),
        (["coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "\uff12"], "--count"),
        (["coupons", "list", "--nip", NIP, "--limit", ARABIC_100], "--limit"),
        (["coupons", "list", "--nip", NIP, "--from", "\uff12\uff10\uff12\uff16-03-10"], "--from"),
        (["bank", "unreconciled", "--days", "\u0663"], "--days"),
    ],
)
def test_non_ascii_digits_are_refused_on_the_command_line(run, funded, args, option):
    before = companies(run)
    assert option in one_line(run(*args, ok=False), EXIT_USAGE)
    assert companies(run) == before


def test_a_payout_account_in_fullwidth_digits_fails_config_check(run, config_dir):
    offices = config_dir / "offices.toml"
    text = offices.read_text(encoding="utf-8")
    account = text.split('account = "', 1)[1].split('"', 1)[0]
    wide = "".join(chr(0xFF10 + int(c)) if c.isascii() and c.isdigit() else c for c in account)
    offices.write_text(text.replace(account, wide, 1), encoding="utf-8")
    result = run("config", "check", ok=False)
    assert result.exit_code == 1 and "account: expected a 26-digit NRB" in result.stderr


def test_ids_and_money_take_ascii_digits_only():
    from hub.ids import iban_valid, nip_valid, nrb_valid
    from hub.money import AmountError, parse_grosze

    nrb = "61109010140000071219812874"
    wide = lambda s: "".join(chr(0xFF10 + int(c)) for c in s)  # noqa: E731
    assert nip_valid(NIP) and not nip_valid(wide(NIP))
    assert nrb_valid(nrb) and not nrb_valid(wide(nrb)) and not iban_valid("PL" + wide(nrb))
    with pytest.raises(AmountError):
        parse_grosze(ARABIC_100)


# --- 4. one line, never a traceback ---------------------------------------------------------


def test_a_command_before_hub_init_says_run_hub_init(tmp_path):
    config = config_copy(tmp_path, f"sqlite:///{tmp_path / 'never-initialised.sqlite3'}")
    line = one_line(CliRunner().invoke(cli, ["--config", str(config), "company", "list"]), 1)
    assert line.endswith("lacks tables of this hub (not initialised, or older than this version): run `hub init`")


@pytest.fixture
def gunicorn_never_runs(monkeypatch):
    """`hub serve` gets as far as starting gunicorn, which is recorded instead of run."""
    from gunicorn.app.base import BaseApplication

    started = []
    monkeypatch.setattr(BaseApplication, "run", lambda app: started.append(app))
    return started


def test_serve_refuses_a_database_never_initialised_with_one_line(tmp_path, gunicorn_never_runs):
    config = config_copy(tmp_path, f"sqlite:///{tmp_path / 'never-initialised.sqlite3'}")
    line = one_line(CliRunner().invoke(cli, ["--config", str(config), "serve", "--port", "0"]), 1)
    assert line.endswith("has no tables of this hub (never initialised): run `hub init`")
    assert gunicorn_never_runs == []


def test_serve_refuses_a_database_at_an_older_migration_and_serves_a_later_version_s(
    tmp_path, db_url, gunicorn_never_runs
):
    """An older migration (the code upgraded, `hub init` forgotten): every request would fail,
    so the hub does not start. One this version does not know is a later version's, in the
    middle of an upgrade (docs/deployment.md): migrations only add, so it is served."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from hub.db.database import Database
    from hub.db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(None))
    head = scripts.get_current_head()
    older = scripts.get_revision(head).down_revision
    config = config_copy(tmp_path, db_url)
    serve = ["--config", str(config), "serve", "--port", "0"]
    db = Database(db_url)

    def at(revision: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})

    try:
        at(older)
        line = one_line(CliRunner().invoke(cli, serve), 1)
        assert line.endswith(f"is at migration {older}, this version needs {head}: run `hub init`")
        assert gunicorn_never_runs == []
        at("f00dcafe0000")
        result = CliRunner().invoke(cli, serve)
        assert result.exit_code == 0 and len(gunicorn_never_runs) == 1
        assert "at migration f00dcafe0000, which this version (at" in result.stderr  # the warning
    finally:
        at(head)
        db.dispose()
    CliRunner().invoke(cli, serve)
    assert len(gunicorn_never_runs) == 2  # at this version's last migration: served


def test_serve_starts_while_its_database_cannot_be_reached(tmp_path, gunicorn_never_runs):
    """A database down when the hub starts may be up in a minute: `/readyz` says so meanwhile."""
    config = config_copy(tmp_path, "postgresql://hub:s3cret-pw@127.0.0.1:1/hub")
    CliRunner().invoke(cli, ["--config", str(config), "serve", "--port", "0"])
    assert len(gunicorn_never_runs) == 1


def test_a_reader_of_stdout_that_went_away_gets_no_line_and_status_141(config_dir):
    """`hub ... | head`: head stopped reading before the hub wrote. Nobody is left to tell:
    no line on stderr, no traceback, the status a tool SIGPIPE ended has."""
    import subprocess
    import sys

    hub = subprocess.Popen(
        [sys.executable, "-c", "from hub.app import main; main()", "--config", str(config_dir), "config", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert hub.stdout is not None
    hub.stdout.close()  # before the hub has started writing: Python's start takes far longer
    _, stderr = hub.communicate(timeout=60)
    assert (hub.returncode, stderr.decode()) == (EXIT_READER_GONE, "")


def test_init_with_postgresql_unreachable_is_one_line_without_the_password(tmp_path):
    config = config_copy(tmp_path, "postgresql://hub:s3cret-pw@127.0.0.1:1/hub")
    result = CliRunner().invoke(cli, ["--config", str(config), "init"])
    assert one_line(result, 1) == "hub: cannot connect to postgresql://hub:***@127.0.0.1:1/hub: connection refused"
    assert "s3cret-pw" not in result.output + result.stderr


@pytest.mark.parametrize(
    "args,option",
    [
        (["coupons", "list", "--nip", NIP, "--from", "0001-01-01"], "--from"),
        (["coupons", "list", "--nip", NIP, "--to", "9999-12-31"], "--to"),
        (["report", "coupons", "--from", "0001-01-01"], "--from"),
        (["bank", "settle", "--date", "9999-12-31"], "--date"),
        (["cashdesk", "close", "--office", "1465", "--desk", "01", "--date", "0001-01-01"], "--date"),
        (["fk", "export", "--office", "1465", "--date", "9999-12-31", "--out", "{tmp}"], "--date"),
        (["bank", "unreconciled", "--days", "999999999"], "--days"),
        (["serve", "--port", "99999"], "--port"),
        (["audit", "archive", "--before", "0001-01-01"], None),
    ],
)
def test_extreme_days_counts_and_ports_are_one_line(run, funded, tmp_path, args, option):
    result = run(*[a.format(tmp=tmp_path) for a in args], ok=False)
    assert result.exit_code in (1, EXIT_USAGE)
    line = one_line(result, result.exit_code)
    assert (option in line) if option else "out of range" in line


def test_an_unreadable_key_or_certificate_is_one_line(run, funded, tmp_path):
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")
    keys = Path(__file__).resolve().parent.parent / "config" / "keys"
    common = ["client", "verify-coupon", "--url", "http://127.0.0.1:1", "--coupon", "X", "--office", "1465"]
    assert "--hub-cert" in one_line(
        run(
            *common,
            "--key",
            str(tmp_path / "bad.pem"),
            "--cert",
            str(tmp_path / "bad.pem"),
            "--hub-cert",
            str(tmp_path / "bad.pem"),
            ok=False,
        ),
        EXIT_USAGE,
    )
    line = one_line(
        run(
            *common,
            "--key",
            str(tmp_path / "bad.pem"),
            "--cert",
            str(keys / "pojazd-1465.crt"),
            "--hub-cert",
            str(keys / "hub.crt"),
            ok=False,
        ),
        1,
    )
    assert "signing key" in line and "bad.pem" in line
    assert "--cert" in one_line(run("coupons", "check-qr", "X", "--cert", str(tmp_path), ok=False), EXIT_USAGE)
