"""Statements as banks write them (issue 15): several statements in one document, amounts with
trailing zeros, balances that must add up, entry statuses and currency codes, structured
references, and continuity (a missing statement reported, never refused)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.bank.models import SUSPENSE, TOPUP, BankStatement
from hub.errors import StatementError
from hub.ids import rf_reference
from hub.ledger.chart import ESCROW
from hub.ops.metrics import exposition
from tests.support.bank import balance, entries, ledger_holds, snapshot
from tests.support.camt import Entry, Statement, camt053, document, line_of, validate
from tests.support.factories import NIP, OPERATOR, OTHER_NIP

OTHER_ACCOUNT = "61109010140000071219812874"  # the hub's other account at the same bank (EUR, say)


def escrow(hub) -> str:
    return hub.config.bank.escrow_account


def imported(hub, data: bytes):
    result = hub.statements.import_document(data, actor=OPERATOR)
    ledger_holds(hub)
    return result


def refused(hub, data: bytes, match: str) -> StatementError:
    before = snapshot(hub)
    with pytest.raises(StatementError, match=match) as error:
        hub.statements.import_document(data, actor=OPERATOR)
    assert snapshot(hub) == before
    return error.value


def day(hub, n: int, entries_: list[Entry], opening: str = "0.00", **kw) -> Statement:
    return Statement(escrow(hub), entries_, statement_id=f"STMT-{n}", sequence=str(n), opening=opening, **kw)


# -- several statements in one document --------------------------------------------------------


def test_a_two_statement_file_imports_both_each_a_statement_of_its_own(hub):
    data = document(
        day(hub, 1, [Entry("100.00", ref="A1"), Entry("20.00", ref="A2")]),
        day(hub, 2, [Entry("5.00", ref="B1")], opening="120.00"),
    )
    validate(data)
    result = imported(hub, data)
    assert [
        (s.bank_statement_id, s.sequence, s.imported + s.unmatched, s.opening_grosze, s.closing_grosze)
        for s in result.statements
    ] == [("STMT-1", "1", 2, 0, 120_00), ("STMT-2", "2", 1, 120_00, 125_00)]
    assert (result.unmatched, result.skipped, result.gaps) == (3, (), ())
    assert result.statements[0].statement_id != result.statements[1].statement_id
    with hub.db.read() as session:
        rows = session.scalars(select(BankStatement).order_by(BankStatement.id)).all()
        assert [(r.statement_id, r.opening_balance_grosze, r.closing_balance_grosze) for r in rows] == [
            ("STMT-1", 0, 120_00),
            ("STMT-2", 120_00, 125_00),
        ]
    before = snapshot(hub)
    again = imported(hub, data)
    assert (again.imported, again.duplicates, again.unmatched) == (0, 3, 0)
    assert [s.statement_id for s in again.statements] == [s.statement_id for s in result.statements]
    assert snapshot(hub) == before
    # Each statement is its own: sent alone later, the second is a duplicate of itself.
    alone = imported(hub, document(day(hub, 2, [Entry("5.00", ref="B1")], opening="120.00")))
    assert (alone.statement_id, alone.duplicates) == (result.statements[1].statement_id, 1)


def test_statements_of_other_accounts_are_listed_as_skipped(hub):
    data = document(
        Statement(OTHER_ACCOUNT, [Entry("9.99", currency="EUR", ref="X1")], statement_id="EUR-1", currency="EUR"),
        day(hub, 1, [Entry("10.00", ref="A1")]),
    )
    result = imported(hub, data)
    assert [(s.bank_statement_id, s.account, s.line) for s in result.skipped] == [
        ("EUR-1", OTHER_ACCOUNT, line_of(data, "<Stmt>", 1))
    ]
    assert [s.bank_statement_id for s in result.statements] == ["STMT-1"] and result.unmatched == 1
    assert [e.amount_grosze for e in entries(hub)] == [10_00]


def test_a_file_with_no_statement_of_the_escrow_account_is_refused(hub):
    data = document(
        Statement(OTHER_ACCOUNT, [Entry("9.99", ref="X1")], statement_id="O-1"),
        Statement(OTHER_ACCOUNT, [Entry("1.00", ref="X2")], statement_id="O-2", sequence="2", opening="9.99"),
    )
    error = refused(hub, data, "not of the hub's escrow account")
    assert (error.element, error.line) == ("Acct/Id", line_of(data, "<Stmt>", 1))


def test_the_file_is_all_or_nothing_a_bad_second_statement_refuses_the_first(hub):
    data = document(
        day(hub, 1, [Entry("10.00", ref="A1")]), day(hub, 2, [Entry("20.00", ref="B1", status="BOOL")], opening="10.00")
    )
    error = refused(hub, data, "'BOOL' is not an entry status")
    assert (error.element, error.line) == ("Sts", line_of(data, "<Sts>", 2))


def test_a_document_over_the_statement_limit_is_refused(hub, monkeypatch):
    monkeypatch.setattr("hub.bank.statements.STATEMENTS_PER_DOCUMENT_MAX", 2)
    data = document(*(day(hub, n, [], opening="0.00") for n in (1, 2, 3)))
    error = refused(hub, data, "more than 2 statements in one document")
    assert (error.element, error.line) == ("Stmt", line_of(data, "<Stmt>", 3))


# -- amounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount,grosze", [("18.150", 18_15), ("5442.09000", 5442_09), ("7", 7_00), ("0.5", 50), ("00012.30", 12_30)]
)
def test_amounts_in_any_form_the_schema_allows_are_read_exactly(hub, amount, grosze):
    data = camt053(escrow(hub), [Entry(amount, ref="A1")], opening="1.00000", closing=f"{1 + grosze / 100:.5f}")
    validate(data)
    result = imported(hub, data)
    assert result.unmatched == 1 and [e.amount_grosze for e in entries(hub)] == [grosze]
    assert (result.statements[0].opening_grosze, result.statements[0].closing_grosze) == (1_00, 1_00 + grosze)


@pytest.mark.parametrize("amount", ["10.001", "10.00001", "10.10010"])
def test_a_non_zero_digit_past_the_grosz_is_refused_naming_the_line(hub, amount):
    data = camt053(escrow(hub), [Entry("1.00", ref="A1"), Entry(amount, ref="A2")], closing="99.00")
    error = refused(hub, data, f"line [0-9]+ Amt: '{amount}' has a non-zero digit past the grosz")
    assert (error.element, error.line) == ("Amt", line_of(data, f">{amount}<"))


# -- balances -----------------------------------------------------------------------------------


def test_a_changed_digit_refuses_the_file_with_the_numbers(hub):
    data = camt053(
        escrow(hub), [Entry("1405.31", ref="A1"), Entry("100.00", direction="DBIT", ref="A2")], opening="50.00"
    )
    changed = data.replace(b">1405.31<", b">1406.31<")
    error = refused(
        hub,
        changed,
        "statement STMT-2026-03-10 does not add up: opening balance 50.00 PLN "
        r"\+ booked credits 1406.31 - booked debits 100.00 = 1356.31, but the closing balance is 1355.31 PLN",
    )
    assert error.element == "Bal"
    assert imported(hub, data).unmatched == 2


def test_a_debit_balance_is_negative_and_prcd_opens_a_statement(hub):
    data = camt053(escrow(hub), [Entry("30.00", ref="A1")], opening="-10.00")
    assert b"<CdtDbtInd>DBIT</CdtDbtInd>" in data  # the opening balance, overdrawn
    assert imported(hub, data).statements[0].closing_grosze == 20_00
    prcd = document(
        Statement(escrow(hub), [Entry("1.00", ref="P1")], statement_id="S-P", opening="20.00", opening_code="PRCD")
    )
    assert imported(hub, prcd).statements[0].opening_grosze == 20_00


def test_a_statement_without_its_closing_balance_is_refused(hub):
    data = camt053(escrow(hub), [Entry("1.00", ref="A1")]).replace(b"<Cd>CLBD</Cd>", b"<Cd>CLAV</Cd>")
    error = refused(hub, data, r"statement STMT-2026-03-10 has no closing booked balance \(CLBD\)")
    assert (error.element, error.line) == ("Bal", line_of(data, "<Stmt>"))


# -- entry statuses and currencies --------------------------------------------------------------


def test_pending_info_and_future_entries_are_not_booked_and_the_statement_adds_up_on_booked_ones(hub):
    data = camt053(
        escrow(hub),
        [
            Entry("10.00", ref="A1"),
            Entry("7.00", status="PDNG", ref="A2"),
            Entry("3.00", status="INFO", ref="A3"),
            Entry("2.00", status="FUTR", ref="A4"),
        ],
        closing="10.00",
    )
    validate(data)
    result = imported(hub, data)
    assert (result.unmatched, result.ignored) == (1, 3)
    assert balance(hub, ESCROW) == -10_00


def test_the_001_02_plain_status_form_is_read_too(hub):
    data = camt053(escrow(hub), [Entry("10.00", ref="A1"), Entry("5.00", status="PDNG", ref="A2")], closing="10.00")
    plain, n = re.subn(rb"<Sts>\s*<Cd>PDNG</Cd>\s*</Sts>", b"<Sts>PDNG</Sts>", data)
    assert n == 1
    assert imported(hub, plain).ignored == 1


@pytest.mark.parametrize("status", ["BOOL", "book", "REJT"])
def test_an_unknown_status_is_refused_naming_the_line(hub, status):
    data = camt053(escrow(hub), [Entry("10.00", ref="A1"), Entry("1.00", status=status, ref="A2")], closing="10.00")
    error = refused(hub, data, f"'{status}' is not an entry status the hub knows")
    assert (error.element, error.line) == ("Sts", line_of(data, "<Sts>", 2))


def test_a_currency_iso_4217_does_not_know_is_refused_wherever_it_is(hub):
    data = camt053(escrow(hub), [Entry("10.00", ref="A1")], opening="1.00")
    for needle, element in ((b'<Amt Ccy="PLN">10.00</Amt>', "Amt"), (b"<Ccy>PLN</Ccy>", "Acct/Ccy")):
        bad = data.replace(needle, needle.replace(b"PLN", b"EUQ"), 1)
        assert bad != data
        error = refused(hub, bad, "'EUQ' is not an ISO 4217 currency code|got 'EUQ'")
        assert error.element == element


def test_a_balance_in_another_currency_than_the_escrow_is_refused(hub):
    data = camt053(escrow(hub), [Entry("10.00", ref="A1")])
    first = data.index(b'<Amt Ccy="PLN">')
    bad = data[:first] + data[first:].replace(b'<Amt Ccy="PLN">', b'<Amt Ccy="EUR">', 1)
    error = refused(hub, bad, "an amount in EUR; the escrow account is kept in PLN")
    assert error.element == "Bal/Amt"


# -- structured references ----------------------------------------------------------------------


def test_a_structured_reference_is_kept_and_matches_by_rf_reference_or_nip(hub):
    hub.companies.add(NIP, "Leasing Polska S.A.", actor=OPERATOR)
    hub.companies.add(OTHER_NIP, "Flota Sp. z o.o.", actor=OPERATOR)
    result = imported(
        hub,
        camt053(
            escrow(hub),
            [
                Entry("100.00", structured=rf_reference(NIP), ref="A1"),
                Entry("50.00", structured=OTHER_NIP, ref="A2"),
                Entry("1.00", structured="RF00" + NIP, ref="A3"),  # wrong check digits: not a reference of ours
            ],
        ),
    )
    assert (result.imported, result.unmatched) == (2, 1)
    rows = entries(hub)
    assert [(r.status, r.remittance) for r in rows] == [
        (TOPUP, rf_reference(NIP)),
        (TOPUP, OTHER_NIP),
        (SUSPENSE, "RF00" + NIP),
    ]
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 100_00
    assert hub.companies.account(OTHER_NIP, actor=OPERATOR).available_grosze == 50_00


# -- continuity ---------------------------------------------------------------------------------


def test_a_gap_in_the_sequence_is_imported_and_reported_until_the_missing_statement_comes(hub):
    assert imported(hub, document(day(hub, 1, [Entry("10.00", ref="A1")]))).gaps == ()
    third = imported(hub, document(day(hub, 3, [Entry("1.00", ref="C1")], opening="15.00")))
    gaps = third.statements[0].gaps
    assert gaps == (
        "ElctrncSeqNb 2 missing (after statement STMT-1, sequence 1)",
        "opening balance 15.00 is not the closing balance 10.00 of statement STMT-1",
    )
    assert third.unmatched == 1  # imported all the same
    listing = hub.statements.statements(actor=OPERATOR)
    assert [(v.bank_statement_id, v.sequence, v.opening_grosze, v.closing_grosze, v.gaps) for v in listing] == [
        ("STMT-1", "1", 0, 10_00, ()),
        ("STMT-3", "3", 15_00, 16_00, gaps),
    ]
    assert b"hub_bank_statement_gaps 1.0" in exposition(hub.db, hub.clock, escrow(hub))

    second = imported(
        hub, document(day(hub, 2, [Entry("5.00", ref="B1")], opening="10.00"))
    )  # the bank sends the missing one
    assert second.gaps == ()
    assert [v.gaps for v in hub.statements.statements(actor=OPERATOR)] == [(), (), ()]
    assert b"hub_bank_statement_gaps 0.0" in exposition(hub.db, hub.clock, escrow(hub))


def test_an_opening_balance_that_is_not_the_previous_closing_is_reported(hub):
    imported(hub, document(day(hub, 1, [Entry("10.00", ref="A1")])))
    result = imported(hub, document(day(hub, 2, [Entry("1.00", ref="B1")], opening="12.00")))
    assert result.gaps == (
        "statement STMT-2: opening balance 12.00 is not the closing balance 10.00 of statement STMT-1",
    )
