"""Importing statements: all or nothing, top-ups by virtual account or NIP, suspense and
assign, reversals that never overdraw, the hub's own debits left for settlement, and no
entry booked twice. After every step the ledger verifies and its trial balance is zero."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from hub.access import Actor
from hub.adapters import camt_process
from hub.adapters.camt import CamtReader
from hub.bank.models import ASSIGNED, REVERSAL, REVERSED, REVIEW, SUSPENSE, TOPUP, UNMATCHED, BankEntry, BankStatement
from hub.bank.statements import StatementService
from hub.errors import InvalidRequest, NotAuthorized, NotFound, StatementError
from hub.ledger.chart import ESCROW, company_account
from hub.ledger.chart import SUSPENSE as SUSPENSE_ACCOUNT
from tests.support.bank import SAMPLE_ACCOUNT, audit_actions, balance, balanced_sample, entries, ledger_holds, snapshot
from tests.support.camt import DATA, Entry, Statement, camt053, document, validate
from tests.support.concurrency import in_threads
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, issue

THIRD_NIP = "7010254361"
BANK = Actor("client:bank-escrow", offices=frozenset())  # as client_actor() makes it for the BANK client


def escrow(hub) -> str:
    return hub.config.bank.escrow_account


def virtual(hub, nip: str) -> str:
    return hub.companies.account(nip, actor=OPERATOR).virtual_account


def companies(hub, *nips: str) -> None:
    for nip in nips:
        hub.companies.add(nip, f"Leasing {nip}", actor=OPERATOR)


def imported(hub, data: bytes, actor: Actor = OPERATOR):
    result = hub.statements.import_document(data, actor=actor)
    ledger_holds(hub)
    return result


def counts(result) -> tuple[int, int, int]:
    return result.imported, result.duplicates, result.unmatched


# -- the published samples ------------------------------------------------------


@pytest.mark.parametrize("sample", ["camt053.v2.minimal.xml", "camt053.v4.xml"])
def test_a_sample_imports_into_suspense_and_a_second_import_changes_nothing(sample_hub, sample):
    data = balanced_sample(sample)
    first = imported(sample_hub, data)
    assert counts(first) == (0, 0, 1) and first.bank_statement_id == "253EURNL26VAYB8060476890"
    [entry] = entries(sample_hub)
    assert (entry.status, entry.amount_grosze, entry.debtor_name, entry.company_id) == (
        SUSPENSE,
        885,
        "NAME NAME",
        None,
    )
    assert (balance(sample_hub, SUSPENSE_ACCOUNT), balance(sample_hub, ESCROW)) == (885, -885)
    [suspended] = sample_hub.statements.suspense(actor=OPERATOR)
    assert (suspended.entry_id, suspended.amount_grosze, suspended.debtor_account) == (
        entry.id,
        885,
        "NL56AGDH9619008421",
    )
    before = snapshot(sample_hub)

    again = imported(sample_hub, data)
    assert counts(again) == (0, 1, 0) and again.statement_id == first.statement_id
    assert snapshot(sample_hub) == before
    assert len(audit_actions(sample_hub, "bank.statement.import")) == 2


@pytest.mark.parametrize("sample", ["camt053.v2.minimal.xml", "camt053.v4.xml"])
def test_a_sample_with_one_byte_broken_is_refused_whole(sample_hub, sample):
    data = balanced_sample(sample)
    broken = data.replace(b"</Stmt>", b"</Stmx>")
    assert len(broken) == len(data) and sum(a != b for a, b in zip(data, broken, strict=True)) == 1
    with pytest.raises(StatementError, match="not well-formed"):
        sample_hub.statements.import_document(broken, actor=OPERATOR)
    assert snapshot(sample_hub) == (0, 0, 0, ())
    ledger_holds(sample_hub)


@pytest.mark.parametrize("sample", ["camt053.v2.minimal.xml", "camt053.v4.xml"])
def test_the_samples_are_refused_by_a_hub_kept_in_pln(configured_hub, sample):
    pln_hub = configured_hub(escrow_account=SAMPLE_ACCOUNT)
    with pytest.raises(StatementError, match="EUR; the escrow account is kept in PLN; nothing was imported"):
        pln_hub.statements.import_document(balanced_sample(sample), actor=OPERATOR)
    assert snapshot(pln_hub) == (0, 0, 0, ())


@pytest.mark.parametrize("sample", ["camt053.v2.minimal.xml", "camt053.v4.xml"])
def test_the_samples_as_published_are_refused_their_closing_balance_is_in_another_currency(sample_hub, sample):
    with pytest.raises(StatementError, match="an amount in SEK; the escrow account is kept in EUR") as error:
        sample_hub.statements.import_document((DATA / sample).read_bytes(), actor=OPERATOR)
    assert error.value.element == "Bal/Amt"
    assert snapshot(sample_hub) == (0, 0, 0, ())


# -- matching credits --------------------------------------------------------------


def test_credits_match_by_virtual_account_or_nip_the_rest_waits_in_suspense_until_assigned(hub):
    companies(hub, NIP, OTHER_NIP, THIRD_NIP)
    data = camt053(
        escrow(hub),
        [
            Entry("1500.00", creditor_account=virtual(hub, NIP), remittance="doładowanie", ref="R1"),
            Entry("200.00", creditor_account=virtual(hub, OTHER_NIP), ref="R2"),
            Entry("50.00", creditor_account=escrow(hub), remittance="Dopłata, NIP 701-025-43-61, dziękujemy", ref="R3"),
            Entry("70.00", remittance="za fakturę 12/2026", debtor_name="Ktoś Nieznany", ref="R4"),
        ],
    )
    validate(data)
    result = imported(hub, data)
    assert counts(result) == (3, 0, 1)
    assert [(e.status, e.amount_grosze) for e in entries(hub)] == [
        (TOPUP, 1500_00),
        (TOPUP, 200_00),
        (TOPUP, 50_00),
        (SUSPENSE, 70_00),
    ]
    assert [hub.companies.account(n, actor=OPERATOR).available_grosze for n in (NIP, OTHER_NIP, THIRD_NIP)] == [
        1500_00,
        200_00,
        50_00,
    ]
    assert (balance(hub, SUSPENSE_ACCOUNT), balance(hub, ESCROW)) == (70_00, -1820_00)

    [waiting] = hub.statements.suspense(actor=OPERATOR)
    assert (waiting.status, waiting.amount_grosze, waiting.debtor_name, waiting.remittance) == (
        SUSPENSE,
        70_00,
        "Ktoś Nieznany",
        "za fakturę 12/2026",
    )
    assigned = hub.statements.assign(waiting.entry_id, OTHER_NIP, actor=OPERATOR)
    ledger_holds(hub)
    assert (assigned.status, assigned.company_nip) == (ASSIGNED, OTHER_NIP)
    assert hub.companies.account(OTHER_NIP, actor=OPERATOR).available_grosze == 270_00
    assert (balance(hub, SUSPENSE_ACCOUNT), hub.statements.suspense(actor=OPERATOR)) == (0, [])
    [event] = audit_actions(hub, "bank.suspense.assign")
    assert (event.actor, event.subject) == ("test", f"company:{OTHER_NIP}")

    before = snapshot(hub)
    assert (
        hub.statements.assign(waiting.entry_id, OTHER_NIP, actor=OPERATOR).status == ASSIGNED
    )  # again: nothing changes
    assert snapshot(hub) == before
    with pytest.raises(InvalidRequest, match="is ASSIGNED; only a SUSPENSE credit"):
        hub.statements.assign(waiting.entry_id, NIP, actor=OPERATOR)
    with pytest.raises(InvalidRequest, match="is TOPUP"):
        hub.statements.assign(entries(hub)[0].id, NIP, actor=OPERATOR)
    assert snapshot(hub) == before


def test_assign_refuses_unknown_entries_and_companies(hub):
    companies(hub, NIP)
    imported(hub, camt053(escrow(hub), [Entry("10.00", ref="R1")]))
    [waiting] = hub.statements.suspense(actor=OPERATOR)
    before = snapshot(hub)
    with pytest.raises(NotFound, match="no bank statement entry 999"):
        hub.statements.assign(999, NIP, actor=OPERATOR)
    with pytest.raises(NotFound, match=f"no company with NIP {OTHER_NIP}"):
        hub.statements.assign(waiting.entry_id, OTHER_NIP, actor=OPERATOR)
    with pytest.raises(InvalidRequest, match="is not valid"):
        hub.statements.assign(waiting.entry_id, "1234567890", actor=OPERATOR)
    assert snapshot(hub) == before


@pytest.mark.parametrize(
    "remittance",
    [
        f"NIP {OTHER_NIP}",  # valid, but no such company registered
        f"NIP {NIP} oraz {THIRD_NIP}",  # two registered companies: ambiguous
        "NIP 5260250275",  # check digit wrong
        f"konto 12{NIP}34",  # digits of a longer number, not a NIP
    ],
)
def test_a_nip_in_the_remittance_must_name_exactly_one_registered_company(hub, remittance):
    companies(hub, NIP, THIRD_NIP)
    result = imported(hub, camt053(escrow(hub), [Entry("10.00", remittance=remittance, ref="R1")]))
    assert counts(result) == (0, 0, 1) and entries(hub)[0].status == SUSPENSE


def test_the_statement_account_may_be_written_as_nrb_or_as_iban(hub):
    companies(hub, NIP)
    as_nrb = camt053(
        escrow(hub), [Entry("10.00", creditor_account=virtual(hub, NIP), ref="R1")], othr_id=True, statement_id="A"
    )
    as_iban = camt053(
        "PL" + escrow(hub), [Entry("20.00", creditor_account=virtual(hub, NIP), ref="R2")], statement_id="B"
    )
    assert counts(imported(hub, as_nrb)) == (1, 0, 0)
    assert counts(imported(hub, as_iban)) == (1, 0, 0)
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 30_00


# -- refusals: nothing imported -------------------------------------------------------


def test_another_account_is_refused_and_nothing_is_imported(hub):
    companies(hub, NIP)
    other = "PL61109010140000071219812874"
    with pytest.raises(
        StatementError, match="of account 61 1090 1014 0000 0712 1981 2874, not of the hub's escrow account"
    ) as error:
        hub.statements.import_document(
            camt053(other, [Entry("10.00", creditor_account=virtual(hub, NIP))]), actor=OPERATOR
        )
    assert error.value.element == "Acct/Id"
    assert snapshot(hub) == (0, 0, 0, ())


@pytest.mark.parametrize("where", ["account", "entry"])
def test_another_currency_is_refused_and_nothing_is_imported(hub, where):
    companies(hub, NIP)
    good = Entry("10.00", creditor_account=virtual(hub, NIP), ref="R1")
    if where == "account":
        data = camt053(escrow(hub), [good], currency="EUR")
    else:
        data = camt053(escrow(hub), [good, Entry("20.00", currency="EUR", ref="R2")])
    with pytest.raises(StatementError, match="an amount in EUR; the escrow account is kept in PLN"):
        hub.statements.import_document(data, actor=OPERATOR)
    assert snapshot(hub) == (0, 0, 0, ())
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 0


def test_a_statement_with_one_byte_broken_at_its_end_books_none_of_its_entries(hub):
    companies(hub, NIP)
    data = camt053(
        escrow(hub), [Entry(f"{i}.00", creditor_account=virtual(hub, NIP), ref=f"R{i}") for i in range(1, 6)]
    )
    broken = data.replace(b"</Stmt>", b"</Stmt!")
    assert len(broken) == len(data)
    with pytest.raises(StatementError, match="not well-formed"):
        hub.statements.import_document(broken, actor=OPERATOR)
    assert snapshot(hub) == (0, 0, 0, ())
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 0


def test_a_third_decimal_place_refuses_the_statement_naming_the_line(hub):
    data = camt053(escrow(hub), [Entry("10.00", ref="R1"), Entry("5.125", ref="R2")])
    line = next(i for i, text in enumerate(data.decode().splitlines(), 1) if ">5.125<" in text)
    with pytest.raises(StatementError, match=rf"line {line} Amt: '5.125' has a non-zero digit past the grosz"):
        hub.statements.import_document(data, actor=OPERATOR)
    assert snapshot(hub) == (0, 0, 0, ())


@pytest.mark.parametrize("apart", [False, True], ids=["parsed-here", "parsed-apart"])
def test_a_file_import_reports_progress_over_its_one_pass(hub, tmp_path, monkeypatch, apart):
    """Parsed here or in a process of its own (hub.adapters.camt_process), the document is
    read once, through the import's progress and its hash."""
    monkeypatch.setattr(camt_process, "APART_BYTES_MIN", 1024 if apart else camt_process.APART_BYTES_MIN)
    path = tmp_path / "statement.xml"
    path.write_bytes(camt053(escrow(hub), [Entry(f"{i}.00", ref=f"R{i}") for i in range(1, 400)]))
    read = []
    result = hub.statements.import_file(path, actor=OPERATOR, progress=read.append)
    assert counts(result) == (0, 0, 399)
    assert len(read) > 2 and sum(read) == hub.statements.passes * path.stat().st_size
    with hub.db.read() as session:
        recorded = session.get(BankStatement, result.statement_id).document_sha256
    assert recorded == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_changes_after_it_is_read_is_imported_as_it_was_read(hub, tmp_path):
    """The document is read once: what is booked, and the sha256 recorded, are of the bytes read."""
    companies(hub, NIP)
    path = tmp_path / "statement.xml"
    data = camt053(escrow(hub), [Entry("10.00", creditor_account=virtual(hub, NIP), ref="R1")])
    path.write_bytes(data)
    read = []

    def progress(n: int) -> None:  # once it is read: another process rewrites the file
        read.append(n)
        if sum(read) == len(data):
            path.write_bytes(data.replace(b">10.00<", b">99.00<"))

    result = hub.statements.import_file(path, actor=OPERATOR, progress=progress)
    assert counts(result) == (1, 0, 0)
    assert balance(hub, company_account(NIP)) == 10_00
    with hub.db.read() as session:
        stored = session.get(BankStatement, result.statement_id)
        assert stored is not None and stored.document_sha256 == hashlib.sha256(data).hexdigest()


# -- no entry twice --------------------------------------------------------------------


def test_an_entry_in_an_overlapping_statement_is_booked_once(hub):
    companies(hub, NIP)
    va = virtual(hub, NIP)
    monday = camt053(
        escrow(hub),
        [Entry("10.00", creditor_account=va, ref="R1"), Entry("20.00", creditor_account=va, ref="R2")],
        statement_id="MON",
    )
    week = camt053(
        escrow(hub),
        [Entry(a, creditor_account=va, ref=r) for a, r in (("10.00", "R1"), ("20.00", "R2"), ("40.00", "R3"))],
        statement_id="WEEK",
    )
    assert counts(imported(hub, monday)) == (2, 0, 0)
    assert counts(imported(hub, week)) == (1, 2, 0)
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 70_00


def test_an_entry_in_two_statements_of_one_document_is_booked_once(hub):
    """A file whose statements overlap (a day's entries again in the week's): the second copy
    is a duplicate, as in a later import, though nothing is committed yet (on PostgreSQL a
    chunk's lookups of stored entries run on a connection of their own, which does not see
    the import's own entries: StatementService._lookups)."""
    companies(hub, NIP)
    va = virtual(hub, NIP)
    monday = [Entry("10.00", creditor_account=va, ref="R1"), Entry("20.00", creditor_account=va, ref="R2")]
    week = [*monday, Entry("40.00", creditor_account=va, ref="R3")]
    data = document(
        Statement(escrow(hub), monday, statement_id="MON", sequence="1"),
        Statement(escrow(hub), week, statement_id="WEEK", sequence="2", opening="30.00"),
    )
    result = imported(hub, data)
    assert counts(result) == (3, 2, 0)
    assert [(s.imported, s.duplicates) for s in result.statements] == [(2, 0), (1, 2)]
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 70_00


def test_entries_without_a_bank_reference_are_told_apart_by_their_fields_and_their_count(hub):
    companies(hub, NIP)
    va = virtual(hub, NIP)
    twice = [
        Entry("25.00", creditor_account=va, remittance="abonament"),
        Entry("25.00", creditor_account=va, remittance="abonament"),
    ]
    first = imported(hub, camt053(escrow(hub), twice, statement_id="S1"))
    assert counts(first) == (2, 0, 0)  # two equal payments on one day are two payments
    overlap = imported(
        hub,
        camt053(
            escrow(hub), [*twice, Entry("25.00", creditor_account=va, remittance="abonament 2")], statement_id="S2"
        ),
    )
    assert counts(overlap) == (1, 2, 0)
    thrice = imported(hub, camt053(escrow(hub), [*twice, twice[0]], statement_id="S3"))
    assert counts(thrice) == (1, 2, 0)  # a third equal payment is new
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 100_00


def test_a_statement_sent_again_with_another_sequence_is_another_statement_but_its_entries_are_not_new(hub):
    data = [Entry("10.00", ref="R1")]
    one = imported(hub, camt053(escrow(hub), data, sequence="1"))
    two = imported(hub, camt053(escrow(hub), data, sequence="2"))
    assert one.statement_id != two.statement_id and counts(two) == (0, 1, 0)
    assert snapshot(hub)[:2] == (2, 1)


def test_concurrent_imports_of_one_statement_book_it_once(hub):
    companies(hub, NIP)
    data = camt053(
        escrow(hub), [Entry(f"{i}.00", creditor_account=virtual(hub, NIP), ref=f"R{i}") for i in range(1, 21)]
    )
    results = in_threads(lambda: hub.statements.import_document(data, actor=OPERATOR), 3)
    assert sorted(counts(r) for r in results) == [(0, 20, 0), (0, 20, 0), (20, 0, 0)]
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == sum(range(1, 21)) * 100
    ledger_holds(hub)


# -- reversals -------------------------------------------------------------------------


def topped_up_by_300(hub) -> None:
    """The company pays 300.00 into its virtual account (entry R1 of statement S1)."""
    companies(hub, NIP)
    imported(
        hub, camt053(escrow(hub), [Entry("300.00", creditor_account=virtual(hub, NIP), ref="R1")], statement_id="S1")
    )


def top_up_reversed(hub):
    """The bank takes R1 back (a DBIT reversal in statement S2); the import's result."""
    return imported(
        hub,
        camt053(
            escrow(hub), [Entry("300.00", direction="DBIT", reversal=True, tx_ref="R1", ref="R9")], statement_id="S2"
        ),
    )


def test_a_reversal_undoes_the_top_up(hub):
    topped_up_by_300(hub)
    result = top_up_reversed(hub)
    assert counts(result) == (1, 0, 0)
    credit, reversal = entries(hub)
    assert (credit.status, reversal.status, reversal.reverses_id, reversal.company_id) == (
        REVERSED,
        REVERSAL,
        credit.id,
        credit.company_id,
    )
    assert hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 0 and balance(hub, ESCROW) == 0


def test_a_reversal_the_company_can_no_longer_cover_goes_to_suspense_for_the_operator(hub):
    topped_up_by_300(hub)
    issue(hub, 1)  # 161.50 held: 138.50 available
    result = top_up_reversed(hub)
    assert counts(result) == (0, 0, 1)
    credit, reversal = entries(hub)
    assert (credit.status, reversal.status, reversal.company_id) == (REVERSED, REVIEW, credit.company_id)
    account = hub.companies.account(NIP, actor=OPERATOR)
    assert (account.posted_grosze, account.held_grosze, account.available_grosze) == (
        300_00,
        161_50,
        138_50,
    )  # never overdrawn
    assert balance(hub, SUSPENSE_ACCOUNT) == -300_00 and balance(hub, ESCROW) == 0
    [flagged] = hub.statements.suspense(actor=OPERATOR)
    assert (flagged.entry_id, flagged.status, flagged.direction, flagged.company_nip) == (
        reversal.id,
        REVIEW,
        "DBIT",
        NIP,
    )
    with pytest.raises(InvalidRequest, match="is REVIEW"):
        hub.statements.assign(reversal.id, NIP, actor=OPERATOR)


def test_a_reversal_of_a_suspense_credit_takes_it_out_of_suspense(hub):
    imported(
        hub,
        camt053(
            escrow(hub),
            [
                Entry("80.00", remittance="?", ref="R1", end_to_end_id="E2E-77"),
                Entry(
                    "80.00", direction="DBIT", reversal=True, end_to_end_id="E2E-77", ref="R2"
                ),  # by EndToEndId, same statement
            ],
        ),
    )
    credit, reversal = entries(hub)
    assert (credit.status, reversal.status, reversal.reverses_id) == (REVERSED, REVERSAL, credit.id)
    assert balance(hub, SUSPENSE_ACCOUNT) == 0 and balance(hub, ESCROW) == 0
    assert hub.statements.suspense(actor=OPERATOR) == []


def test_a_reversal_of_an_unknown_credit_is_flagged_and_booked_against_suspense(hub):
    result = imported(
        hub, camt053(escrow(hub), [Entry("45.00", direction="DBIT", reversal=True, tx_ref="NEVER-SEEN", ref="R2")])
    )
    assert counts(result) == (0, 0, 1)
    assert entries(hub)[0].status == REVIEW and balance(hub, SUSPENSE_ACCOUNT) == -45_00


def test_a_credit_is_reversed_once(hub):
    companies(hub, NIP)
    va = virtual(hub, NIP)
    imported(
        hub,
        camt053(
            escrow(hub),
            [
                Entry("10.00", creditor_account=va, ref="R1"),
                Entry("10.00", direction="DBIT", reversal=True, tx_ref="R1", ref="R2"),
                Entry("10.00", direction="DBIT", reversal=True, tx_ref="R1", ref="R3"),
            ],
        ),
    )
    assert [e.status for e in entries(hub)] == [REVERSED, REVERSAL, REVIEW]


# -- the hub's own transfers, and what is not booked ---------------------------------------


def test_debits_are_kept_unmatched_for_settlement_and_not_booked(hub):
    result = imported(
        hub,
        camt053(
            escrow(hub),
            [
                Entry("161.50", direction="DBIT", end_to_end_id="SETTLE-1465-20260310", ref="D1"),
                Entry("100.00", direction="DBIT", ref="D2", splits=[("60.00", "SETTLE-A"), ("40.00", "SETTLE-B")]),
                Entry("5.00", status="PDNG", ref="P1"),
                Entry("6.00", status="INFO", ref="P2"),
            ],
        ),
    )
    assert (counts(result), result.ignored) == ((0, 0, 3), 2)  # the batch debit is two entries
    rows = entries(hub)
    assert [(e.direction, e.status, e.end_to_end_id, e.amount_grosze, e.ledger_transfer_id) for e in rows] == [
        ("DBIT", UNMATCHED, "SETTLE-1465-20260310", 161_50, None),
        ("DBIT", UNMATCHED, "SETTLE-A", 60_00, None),
        ("DBIT", UNMATCHED, "SETTLE-B", 40_00, None),
    ]
    assert snapshot(hub)[2] == 0  # no ledger transfer
    assert hub.statements.suspense(actor=OPERATOR) == []


def test_a_batch_credit_splits_by_transaction_when_its_amounts_add_up(hub):
    companies(hub, NIP, OTHER_NIP)
    batch = Entry("30.00", ref="B1", splits=[("10.00", "E1"), ("20.00", "E2")])
    wrong = Entry("30.00", ref="B2", splits=[("10.00", "E3"), ("25.00", "E4")])
    imported(hub, camt053(escrow(hub), [batch, wrong]))
    rows = entries(hub)
    assert [(e.amount_grosze, e.end_to_end_id, e.entry_key) for e in rows] == [
        (10_00, "E1", "ref:B1/1"),
        (20_00, "E2", "ref:B1/2"),
        (30_00, "E3", "ref:B2"),
    ]


def test_reconcilers_run_in_the_import_and_their_matches_are_not_unmatched(hub, clock):
    def settle(session, statement_id):
        for row in session.query(BankEntry).filter_by(
            statement_id=statement_id, status=UNMATCHED, end_to_end_id="KNOWN"
        ):
            row.status = "RECONCILED"

    service = StatementService(hub.db, hub.config.bank, clock, reconcilers=[settle], reader=CamtReader())
    result = service.import_document(
        camt053(
            escrow(hub),
            [
                Entry("10.00", direction="DBIT", end_to_end_id="KNOWN", ref="D1"),
                Entry("20.00", direction="DBIT", end_to_end_id="STRANGE", ref="D2"),
            ],
        ),
        actor=OPERATOR,
    )
    assert counts(result) == (1, 0, 1)
    assert [e.status for e in entries(hub)] == ["RECONCILED", UNMATCHED]


# -- XSD validation, permissions, the audit trail ---------------------------------------------


def test_with_statement_xsd_dir_an_invalid_statement_is_refused(xsd_hub):
    bad = camt053(
        escrow(xsd_hub), [Entry("10.00", ref="R1"), Entry("10.00", ref="R2", remittance="x" * 141)]
    )  # Max140Text
    with pytest.raises(StatementError, match="camt.053.001.08 schema") as error:
        xsd_hub.statements.import_document(bad, actor=OPERATOR)
    assert error.value.element == "Ustrd"
    assert snapshot(xsd_hub) == (0, 0, 0, ())
    assert counts(imported(xsd_hub, camt053(escrow(xsd_hub), [Entry("10.00", ref="R1")]))) == (0, 0, 1)


def test_the_samples_import_with_xsd_validation_on(configured_hub):
    hub = configured_hub(escrow_account=SAMPLE_ACCOUNT, currency="EUR", statement_xsd_dir=str(DATA))
    assert counts(imported(hub, balanced_sample("camt053.v2.minimal.xml"))) == (0, 0, 1)


def test_only_the_operator_and_the_bank_import_and_only_the_operator_handles_suspense(hub):
    companies(hub, NIP)
    data = camt053(escrow(hub), [Entry("10.00", ref="R1")])
    office = Actor("client:pojazd-1465", offices=frozenset({"1465"}))
    for outsider in (company_actor(NIP), office, replace(OPERATOR, name="user:viewer", permissions=frozenset())):
        with pytest.raises(NotAuthorized):
            hub.statements.import_document(data, actor=outsider)
    assert snapshot(hub) == (0, 0, 0, ())
    assert counts(imported(hub, data, actor=BANK)) == (0, 0, 1)
    [waiting] = hub.statements.suspense(actor=OPERATOR)
    for outsider in (company_actor(NIP), BANK):
        with pytest.raises(NotAuthorized):
            hub.statements.suspense(actor=outsider)
        with pytest.raises(NotAuthorized):
            hub.statements.assign(waiting.entry_id, NIP, actor=outsider)
    [event] = audit_actions(hub, "bank.statement.import")
    assert (event.actor, event.subject) == ("client:bank-escrow", f"bank-statement:{entries(hub)[0].statement_id}")
    assert '"unmatched": 1' in event.detail


def test_a_document_over_the_limit_is_refused_before_parsing(hub, monkeypatch):
    import hub.bank.statements as statements

    monkeypatch.setattr(statements, "DOCUMENT_BYTES_MAX", 100)
    with pytest.raises(InvalidRequest, match="the limit is 100 bytes"):
        hub.statements.import_document(camt053(escrow(hub), []), actor=OPERATOR)


def test_a_company_funded_by_statement_can_issue_coupons(hub):
    companies(hub, NIP)
    imported(hub, camt053(escrow(hub), [Entry("161.50", creditor_account=virtual(hub, NIP), ref="R1")]))
    batch = issue(hub, 1)
    assert batch.total_held_grosze == 161_50 and hub.companies.account(NIP, actor=OPERATOR).available_grosze == 0
    ledger_holds(hub)
    assert balance(hub, company_account(NIP)) == 161_50
