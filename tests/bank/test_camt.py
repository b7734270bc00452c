"""The streaming camt.053 reader: the three versions, every refusal naming element and line,
hostile XML, optional XSD validation, and 100,000 entries in constant memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.adapters.camt import read_statement, validate_schema
from hub.bank.reader import StatementEntry, StatementHeader
from hub.errors import StatementError
from tests.support.camt import DATA, Entry, camt053, line_of, validate, write_camt053

ESCROW = "75116022020000000412345678"
VIRTUAL = "54116022020000005260250274"  # the shipped escrow's virtual account of NIP 5260250274
REPO = Path(__file__).resolve().parents[2]


def read(data: bytes) -> tuple[StatementHeader, list[StatementEntry]]:
    header, *entries = read_statement(io.BytesIO(data))
    return header, entries


def test_sample_001_02_reads_header_balances_and_entry():
    header, entries = read((DATA / "camt053.v2.minimal.xml").read_bytes())
    assert (header.version, header.statement_id, header.electronic_sequence) == (
        "001.02",
        "253EURNL26VAYB8060476890",
        "12312",
    )
    assert (header.account, header.currency, header.message_id) == (
        "NL26VAYB8060476890",
        "EUR",
        "CAMT053RIB000000000001",
    )
    assert header.created_at == datetime(2015, 3, 10, 18, 43, 50, tzinfo=UTC)
    assert (header.opening.code, header.opening.amount_grosze, header.opening.currency) == ("OPBD", 18_15, "EUR")
    assert (header.closing.code, header.closing.amount_grosze) == ("CLBD", -27_00)  # DBIT: negative
    [entry] = entries
    assert (entry.amount_grosze, entry.currency, entry.direction, entry.reversal, entry.booked) == (
        885,
        "EUR",
        "CRDT",
        False,
        True,
    )
    assert (entry.booking_date, entry.value_date, entry.account_servicer_ref) == (
        date(2014, 12, 31),
        date(2015, 1, 2),
        None,
    )
    [tx] = entry.transactions
    assert (tx.debtor_name, tx.debtor_account, tx.creditor_account, tx.end_to_end_id) == (
        "NAME NAME",
        "NL56AGDH9619008421",
        "NL56AGDH9619008421",
        None,
    )


def test_sample_001_04_names_its_account_by_othr_id():
    header, [entry] = read((DATA / "camt053.v4.xml").read_bytes())
    assert (header.version, header.account, header.currency) == ("001.04", "NL26VAYB8060476890", None)
    assert (entry.amount_grosze, entry.account_servicer_ref, entry.status) == (885, "AAAASESS-FP-CN_98765/01", "BOOK")


def test_generated_001_08_reads_every_field_the_hub_uses():
    data = camt053(
        ESCROW,
        [
            Entry(
                "1500.00", creditor_account=VIRTUAL, remittance="Doładowanie konta", ref="REF-1", end_to_end_id="E2E-1"
            ),
            Entry("12.34", direction="DBIT", reversal=True, tx_ref="REF-1", ref="REF-2"),
            Entry("5.00", status="PDNG"),
        ],
        statement_id="S-1",
        sequence="7",
    )
    validate(data)
    header, (credit, reversal, pending) = read(data)
    assert (header.version, header.account, header.currency, header.statement_id, header.electronic_sequence) == (
        "001.08",
        ESCROW,
        "PLN",
        "S-1",
        "7",
    )
    assert (credit.amount_grosze, credit.direction, credit.booked, credit.account_servicer_ref) == (
        1500_00,
        "CRDT",
        True,
        "REF-1",
    )
    [tx] = credit.transactions
    assert (tx.creditor_account, tx.remittance, tx.end_to_end_id, tx.debtor_name) == (
        VIRTUAL,
        "Doładowanie konta",
        "E2E-1",
        "Leasing Polska S.A.",
    )
    assert tx.debtor_account == "61109010140000071219812874"  # PL + NRB -> NRB
    assert (
        reversal.direction,
        reversal.reversal,
        reversal.transactions[0].account_servicer_ref,
        reversal.transactions[0].end_to_end_id,
    ) == ("DBIT", True, "REF-1", None)
    assert (pending.status, pending.booked) == ("PDNG", False)
    assert credit.line == line_of(data, "<Ntry ", 1)


def test_othr_id_account_and_no_entries():
    header, entries = read(camt053("NL26VAYB8060476890", [], othr_id=True))
    assert (header.account, entries) == ("NL26VAYB8060476890", [])


def test_a_third_decimal_place_is_refused_naming_the_line():
    data = camt053(ESCROW, [Entry("10.00", ref="A"), Entry("10.005", ref="B")])
    validate(data)  # valid camt.053 (5 fraction digits allowed): the hub's own rule refuses it
    with pytest.raises(StatementError) as error:
        read(data)
    assert (error.value.element, error.value.line) == ("Amt", line_of(data, ">10.005<"))
    assert f"line {line_of(data, '>10.005<')} Amt" in str(error.value) and "'10.005'" in str(error.value)


@pytest.mark.parametrize("amount", ["-5.00", "1e3", "", "12,50", "0.5.0"])
def test_an_amount_that_is_not_grosze_is_refused(amount):
    data = camt053(ESCROW, [Entry("10.00")], closing="99.99").replace(b">10.00<", f">{amount}<".encode())
    with pytest.raises(StatementError) as error:
        read(data)
    assert error.value.element == "Amt" and error.value.line == line_of(data, '<Amt Ccy="PLN">', 3)


def test_a_missing_required_element_is_named_with_the_line_of_its_parent():
    data = camt053(ESCROW, [Entry("10.00"), Entry("20.00")])
    second = line_of(data, "<Ntry ", 2)
    lines = data.decode().splitlines()
    cut = next(i for i in range(second, len(lines)) if "<CdtDbtInd>" in lines[i])
    broken = "\n".join(lines[:cut] + lines[cut + 1 :]).encode()
    with pytest.raises(StatementError) as error:
        read(broken)
    assert (error.value.element, error.value.line) == ("CdtDbtInd", second)
    assert "CdtDbtInd is required in Ntry" in str(error.value)


def test_a_broken_byte_is_refused_with_its_line():
    data = camt053(ESCROW, [Entry("10.00", remittance="fine"), Entry("20.00", remittance="broken here")])
    broken = data.replace(b"broken here</Ustrd>", b"broken here&/Ustrd>", 1)  # one byte
    assert len(broken) == len(data)
    with pytest.raises(StatementError) as error:
        read(broken)
    assert error.value.line == line_of(broken, "broken here")
    assert "not well-formed" in str(error.value)


def test_a_truncated_file_is_refused():
    data = camt053(ESCROW, [Entry("10.00"), Entry("20.00")])
    with pytest.raises(StatementError, match="not well-formed"):
        read(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data,problem",
    [
        (b'<?xml version="1.0"?><Document xmlns="urn:example"><x/></Document>', "not a camt.053 document"),
        (b'<?xml version="1.0"?><Other/>', "not a camt.053 document: the root element is Other"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt/></Document>',
            "holds no statement",
        ),
    ],
)
def test_not_a_statement(data, problem):
    with pytest.raises(StatementError, match=problem):
        read(data)


def test_a_dtd_is_refused_before_any_entry(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = camt053(ESCROW, [Entry("10.00", remittance="&xxe;")]).replace(b"&amp;xxe;", b"&xxe;")
    hostile = data.replace(
        b"<?xml version='1.0' encoding='UTF-8'?>",
        f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode(),
    )
    items = read_statement(io.BytesIO(hostile))
    with pytest.raises(StatementError, match="DOCTYPE") as error:
        next(items)
    assert "TOP-SECRET" not in str(error.value)


def test_billion_laughs_expands_nothing():
    lol = (
        b'<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
        + b"]>"
    )
    data = camt053(ESCROW, [Entry("10.00", remittance="X")]).replace(b"<?xml version='1.0' encoding='UTF-8'?>", lol)
    # Refused for its DOCTYPE at the root, or (newer libxml2, which reads ahead) by libxml2's
    # own amplification limit before the root is reported: either way nothing is expanded.
    with pytest.raises(StatementError, match="DOCTYPE|entity amplification"):
        read(data.replace(b">X<", b">&i;<"))


def test_an_undeclared_entity_is_not_well_formed():
    data = camt053(ESCROW, [Entry("10.00", remittance="X")]).replace(b">X<", b">&nbsp;<")
    with pytest.raises(StatementError, match="not well-formed"):
        read(data)


# -- XSD ---------------------------------------------------------------------


@pytest.mark.parametrize("name,version", [("camt053.v2.minimal.xml", "001.02"), ("camt053.v4.xml", "001.04")])
def test_the_samples_are_valid_against_their_xsd(name, version):
    validate_schema(io.BytesIO((DATA / name).read_bytes()), DATA, version)


def test_the_xsd_refusal_names_element_and_line():
    data = camt053(ESCROW, [Entry("10.00"), Entry("20.00"), Entry("30.00", status="BOOKED")])
    with pytest.raises(StatementError) as error:
        validate_schema(io.BytesIO(data), DATA, "001.08")
    assert error.value.element == "Cd" and error.value.line == line_of(data, "BOOKED")
    assert "camt.053.001.08 schema" in str(error.value)


def test_no_xsd_for_the_version_is_a_clear_error(tmp_path):
    with pytest.raises(StatementError, match="no XSD for camt.053.001.08"):
        validate_schema(io.BytesIO(camt053(ESCROW, [])), tmp_path, "001.08")


# -- constant memory -----------------------------------------------------------

ENTRIES = 100_000

_MEASURE = """
import json, sys
from hub.adapters.camt import read_statement
count = total = 0
with open(sys.argv[1], "rb") as stream:
    for item in read_statement(stream):
        if hasattr(item, "amount_grosze"):
            count += 1
            total += item.amount_grosze
# VmHWM: this program's own peak RSS (ru_maxrss would count the pytest worker's, inherited across fork and exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"count": count, "total": total, "maxrss_kb": peak_kb}))
"""


def test_100000_entries_parse_in_constant_memory(tmp_path, record_property):
    path = tmp_path / "big.xml"
    entries = (
        Entry(
            f"{i % 1000}.{i % 100:02d}",
            creditor_account=VIRTUAL,
            remittance=f"przelew {i} " + "x" * 60,
            ref=f"R{i}",
            end_to_end_id=f"E{i}",
        )
        for i in range(1, ENTRIES + 1)
    )
    write_camt053(path, ESCROW, entries)
    size_mb = path.stat().st_size / 1e6
    assert size_mb > 100  # large enough that a parser keeping the tree would need far more than the limit
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout)
    expected_total = sum((i % 1000) * 100 + i % 100 for i in range(1, ENTRIES + 1))
    assert (measured["count"], measured["total"]) == (ENTRIES, expected_total)
    peak = f"{measured['maxrss_kb'] / 1024:.0f} MB for a {size_mb:.0f} MB statement"
    record_property("measured", f"camt.053 of {ENTRIES:,} entries parsed: peak RSS {peak}")
    assert measured["maxrss_kb"] < 200 * 1024, peak
