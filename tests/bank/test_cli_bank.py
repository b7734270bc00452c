"""`hub bank import|statements|suspense|assign`: the run an operator does, JSON output, and one
clear line on stderr with a non-zero exit for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hub.app import cli
from tests.support.bank import edit_bank
from tests.support.camt import DATA, Entry, Statement, camt053, document, line_of
from tests.support.factories import NIP, config_copy

ESCROW = "75116022020000000412345678"  # the shipped hub.toml's
VIRTUAL = "54116022020000005260250274"  # NIP's virtual account under it


@pytest.fixture
def run(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)

    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(cli, ["--config", str(config_dir), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.stderr
        return result

    return run


@pytest.fixture
def statement(tmp_path):
    path = tmp_path / "camt053.xml"
    path.write_bytes(
        camt053(
            ESCROW,
            [
                Entry("1000.00", creditor_account=VIRTUAL, remittance="doładowanie", ref="R1"),
                Entry("42.00", remittance="przelew bez tytułu", debtor_name="Jan Kowalski", ref="R2"),
                Entry("7.00", status="PDNG", ref="R3"),
            ],
        )
    )
    return path


def test_import_suspense_assign(run, statement):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    first = json.loads(run("bank", "import", str(statement), "--json").stdout)
    assert (first["imported"], first["duplicates"], first["unmatched"], first["ignored"]) == (1, 0, 1, 1)
    again = run("bank", "import", str(statement)).stdout.strip()
    assert (
        again == f"statement STMT-2026-03-10 (hub id {first['statement_id']}): "
        "0 imported, 2 duplicates, 0 unmatched, 1 not booked by the bank"
    )

    [waiting] = json.loads(run("bank", "suspense", "--json").stdout)
    assert (waiting["status"], waiting["amount"], waiting["debtor_name"], waiting["remittance"]) == (
        "SUSPENSE",
        "42.00",
        "Jan Kowalski",
        "przelew bez tytułu",
    )
    text = run("bank", "suspense").stdout
    assert "Jan Kowalski" in text and "42.00" in text and "przelew bez tytułu" in text

    assigned = json.loads(run("bank", "assign", str(waiting["entry_id"]), "--nip", NIP, "--json").stdout)
    assert (assigned["status"], assigned["company_nip"]) == ("ASSIGNED", NIP)
    assert run("bank", "suspense").stdout.strip() == "nothing in suspense"
    [company] = json.loads(run("company", "list", "--json").stdout)
    assert company["available"] == "1042.00"


@pytest.mark.parametrize(
    "make,expected",
    [
        (
            lambda p: p.write_bytes(camt053(ESCROW, [Entry("1.005", ref="R1")])),
            "Amt: '1.005' has a non-zero digit past the grosz",
        ),
        (
            lambda p: p.write_bytes(camt053("PL61109010140000071219812874", [Entry("1.00")])),
            "not of the hub's escrow account",
        ),
        (lambda p: p.write_bytes(b"<Document/>"), "not a camt.053 document"),
        (lambda p: p.write_bytes(b"<unclosed"), "not well-formed"),
    ],
)
def test_a_refused_statement_is_one_line_and_imports_nothing(run, tmp_path, make, expected):
    path = tmp_path / "bad.xml"
    make(path)
    result = run("bank", "import", str(path), ok=False)
    lines = result.stderr.strip().splitlines()
    assert (
        result.exit_code == 1
        and len(lines) == 1
        and expected in lines[0]
        and lines[0].startswith("hub: InvalidRequest: camt.053")
    )
    assert json.loads(run("bank", "suspense", "--json").stdout) == []


def test_assign_errors_are_one_line(run, statement):
    run("bank", "import", str(statement))
    result = run("bank", "assign", "999", "--nip", NIP, ok=False)
    assert (result.exit_code, result.stderr.strip()) == (1, "hub: NotFound: no bank statement entry 999")
    missing = run("bank", "import", "no-such-file.xml", ok=False)
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_statements_lists_sequence_balances_and_gaps_and_the_import_names_them(run, tmp_path):
    first, third = tmp_path / "1.xml", tmp_path / "3.xml"
    first.write_bytes(
        document(
            Statement(ESCROW, [Entry("10.00", ref="A1")], statement_id="S-1", sequence="1"),
            Statement("61109010140000071219812874", [Entry("1.00", ref="X1")], statement_id="OTHER-1"),
        )
    )
    third.write_bytes(
        document(Statement(ESCROW, [Entry("2.00", ref="C1")], statement_id="S-3", sequence="3", opening="10.00"))
    )
    run("init")
    assert json.loads(run("bank", "statements", "--json").stdout) == []
    assert run("bank", "statements").stdout.strip() == "no statements imported"
    lines = run("bank", "import", str(first)).stdout.strip().splitlines()
    other = line_of(first.read_bytes(), "<Stmt>", 2)
    assert (
        lines[1] == f"statement OTHER-1 of account 61 1090 1014 0000 0712 1981 2874 (line {other}): "
        "skipped, not the escrow account"
    )
    answer = json.loads(run("bank", "import", str(third), "--json").stdout)
    assert answer["gaps"] == ["statement S-3: ElctrncSeqNb 2 missing (after statement S-1, sequence 1)"]
    listing = json.loads(run("bank", "statements", "--json").stdout)
    assert [
        (s["bank_statement_id"], s["sequence"], s["opening"], s["closing"], s["entries"], s["gaps"]) for s in listing
    ] == [
        ("S-1", "1", "0.00", "10.00", 1, []),
        ("S-3", "3", "10.00", "12.00", 1, ["ElctrncSeqNb 2 missing (after statement S-1, sequence 1)"]),
    ]
    text = run("bank", "statements").stdout
    assert "gap: ElctrncSeqNb 2 missing" in text and "opening          10.00  closing          12.00" in text


def test_an_xsd_refusal_is_one_line_on_stderr_without_a_traceback(tmp_path, db_url):
    """In a real process: the traceback came from the garbage collector after the error line."""
    config_dir = config_copy(tmp_path, db_url)
    edit_bank(config_dir, statement_xsd_dir=str(DATA))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(camt053(ESCROW, [Entry("10.00", ref="R1", remittance="x" * 141)]))
    hub = [sys.executable, "-c", "from hub.app import main; main()", "--config", str(config_dir)]
    assert subprocess.run([*hub, "init"], capture_output=True).returncode == 0
    done = subprocess.run([*hub, "bank", "import", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"hub: InvalidRequest: camt.053 line {line_of(bad.read_bytes(), 'x' * 141)} "
        "Ustrd: does not match the camt.053.001.08 schema: value length cannot be greater than 140"
    ]


def test_a_large_statement_is_parsed_apart_and_its_refusal_is_one_line(tmp_path, db_url):
    """In a real process, a document past hub.adapters.camt_process.APART_BYTES_MIN: parsed by a
    child process, imported whole; with a bad amount near its end, refused in one line naming
    the line, and nothing imported."""
    from hub.adapters.camt_process import APART_BYTES_MIN

    config_dir = config_copy(tmp_path, db_url)
    hub = [sys.executable, "-c", "from hub.app import main; main()", "--config", str(config_dir)]
    assert subprocess.run([*hub, "init"], capture_output=True).returncode == 0
    entries = [Entry(f"{i}.00", remittance=f"przelew {i}", ref=f"R{i}", end_to_end_id=f"E{i}") for i in range(1, 6001)]
    bad, good = tmp_path / "bad.xml", tmp_path / "good.xml"
    bad.write_bytes(camt053(ESCROW, [*entries[:-1], Entry("1.001", ref="LAST")]))
    good.write_bytes(camt053(ESCROW, entries))
    assert good.stat().st_size > APART_BYTES_MIN

    refused = subprocess.run([*hub, "bank", "import", str(bad)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"hub: InvalidRequest: camt.053 line {line_of(bad.read_bytes(), '1.001')} Amt: "
        "'1.001' has a non-zero digit past the grosz; an amount must be exact to the grosz"
    ]
    done = subprocess.run([*hub, "bank", "import", "--json", str(good)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["unmatched"] + json.loads(done.stdout)["imported"] == 6000
