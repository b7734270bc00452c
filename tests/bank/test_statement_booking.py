"""The chunked import books exactly as the import did before it was made faster (bulk inserts,
the document parsed in a process of its own, one clock reading a chunk): a document of every
kind of entry, booked in chunks of 4 so that chunks end between a credit and its reversal, a
split and a duplicate, must leave the same entries and ledger transfers as before, down to each
reference."""

from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from hub.adapters import camt_process
from hub.bank import statements
from hub.bank.models import BankEntry, BankStatement
from hub.companies.models import Company
from hub.errors import StatementError
from hub.ledger.models import LedgerAccount, LedgerTransfer
from tests.support.bank import ledger_holds
from tests.support.camt import Entry, Statement, document
from tests.support.factories import NIP, OPERATOR, OTHER_NIP


def _companies(hub) -> None:
    for nip in (NIP, OTHER_NIP):
        hub.companies.add(nip, f"Leasing {nip}", actor=OPERATOR)


def _mixed(hub) -> bytes:
    """Two statements: top-ups by virtual account and by NIP, suspense, two identical entries
    without a reference, a split batch, a debit for settlement, an entry not booked, reversals
    of a suspense credit, of a top-up and of an unknown credit; the second statement repeats
    an entry of the first."""
    escrow = hub.config.bank.escrow_account
    va = hub.companies.account(NIP, actor=OPERATOR).virtual_account
    first = [
        Entry("1500.00", creditor_account=va, remittance="doładowanie", ref="R1"),
        Entry("50.00", remittance=f"Dopłata, NIP {OTHER_NIP[:3]}-{OTHER_NIP[3:6]}-{OTHER_NIP[6:8]}-{OTHER_NIP[8:]}"),
        Entry("50.00", remittance=f"Dopłata, NIP {OTHER_NIP[:3]}-{OTHER_NIP[3:6]}-{OTHER_NIP[6:8]}-{OTHER_NIP[8:]}"),
        Entry("70.00", remittance="za fakturę 12/2026", debtor_name="Ktoś Nieznany", ref="R4"),
        Entry("30.00", ref="B1", splits=[("10.00", "E1"), ("20.00", "E2")]),
        Entry("161.50", direction="DBIT", end_to_end_id="SETTLE-1465-20260310", ref="D1"),
        Entry("5.00", status="PDNG", ref="P1"),
        Entry("80.00", remittance="?", ref="R8", end_to_end_id="E2E-77"),
        Entry("80.00", direction="DBIT", reversal=True, end_to_end_id="E2E-77", ref="R9"),
        Entry("100.00", creditor_account=va, ref="R10"),
        Entry("100.00", direction="DBIT", reversal=True, tx_ref="R10", ref="R11"),
        Entry("45.00", direction="DBIT", reversal=True, tx_ref="NEVER-SEEN", ref="R12"),
        Entry("12.34000", remittance=f"NIP {NIP}", ref="R13"),
    ]
    second = [Entry("70.00", remittance="za fakturę 12/2026", debtor_name="Ktoś Nieznany", ref="R4")]
    second += [Entry(f"{i}.00", remittance=f"NIP {NIP}", ref=f"S{i}") for i in range(1, 7)]
    return document(
        Statement(escrow, first, statement_id="MIXED-1", sequence="1"),
        Statement(escrow, second, statement_id="MIXED-2", sequence="2", opening="1441.34"),
    )


def _booked(hub) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Entries, transfers and accounts, each entry and transfer named by the entry's key (ids differ by database)."""
    with hub.db.read() as session:
        keys = dict(session.execute(select(BankEntry.id, BankEntry.entry_key)).all())

        def named(transfer_id: str | None) -> str | None:
            if transfer_id is None or not transfer_id.startswith("bank-entry:"):
                return transfer_id
            number, _, rest = transfer_id.removeprefix("bank-entry:").partition(":")
            return ":".join(["bank-entry", keys[int(number)], *([rest] if rest else [])])

        e = BankEntry
        rows = session.execute(
            select(
                BankStatement.statement_id,
                e.entry_key,
                e.direction,
                e.reversal,
                e.amount_grosze,
                e.booking_date,
                e.account_servicer_ref,
                e.end_to_end_id,
                e.creditor_account,
                e.debtor_name,
                e.remittance,
                e.line,
                e.status,
                Company.nip,
                e.ledger_transfer_id,
                e.reverses_id,
                e.created_at,
            )
            .join(BankStatement, BankStatement.id == e.statement_id)
            .outerjoin(Company, Company.id == e.company_id)
            .order_by(e.id)
        ).all()
        entries = [(*r[:14], named(r[14]), keys.get(r[15]), r[16].isoformat()) for r in rows]
        debit, credit = aliased(LedgerAccount), aliased(LedgerAccount)
        t = LedgerTransfer
        transfers = sorted(
            (named(r[0]), *r[1:3], *r[3:5], r[5], r[6], r[7].isoformat())
            for r in session.execute(
                select(t.id, t.kind, t.code, debit.code, credit.code, t.amount_grosze, t.reference, t.created_at)
                .join(debit, debit.id == t.debit_account_id)
                .join(credit, credit.id == t.credit_account_id)
            )
        )
        accounts = [
            tuple(r)
            for r in session.execute(
                select(
                    LedgerAccount.code,
                    LedgerAccount.debits_pending,
                    LedgerAccount.debits_posted,
                    LedgerAccount.credits_pending,
                    LedgerAccount.credits_posted,
                ).order_by(LedgerAccount.code)
            )
        ]
    return entries, transfers, accounts


# What the import stored before it was made faster (commit f9da82d), on SQLite and PostgreSQL alike.
ENTRIES = [
    (
        "MIXED-1",
        "ref:R1",
        "CRDT",
        False,
        150000,
        date(2026, 3, 10),
        "R1",
        None,
        "54116022020000005260250274",
        "Leasing Polska S.A.",
        "doładowanie",
        60,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:R1",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1",
        "CRDT",
        False,
        5000,
        date(2026, 3, 10),
        None,
        None,
        None,
        "Leasing Polska S.A.",
        "Dopłata, NIP 774-000-14-54",
        105,
        "TOPUP",
        "7740001454",
        "bank-entry:sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1#2",
        "CRDT",
        False,
        5000,
        date(2026, 3, 10),
        None,
        None,
        None,
        "Leasing Polska S.A.",
        "Dopłata, NIP 774-000-14-54",
        145,
        "TOPUP",
        "7740001454",
        "bank-entry:sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1#2",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R4",
        "CRDT",
        False,
        7000,
        date(2026, 3, 10),
        "R4",
        None,
        None,
        "Ktoś Nieznany",
        "za fakturę 12/2026",
        186,
        "SUSPENSE",
        None,
        "bank-entry:ref:R4",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:B1/1",
        "CRDT",
        False,
        1000,
        date(2026, 3, 10),
        "B1",
        "E1",
        None,
        "Leasing Polska S.A.",
        "",
        227,
        "SUSPENSE",
        None,
        "bank-entry:ref:B1/1",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:B1/2",
        "CRDT",
        False,
        2000,
        date(2026, 3, 10),
        "B1",
        "E2",
        None,
        "Leasing Polska S.A.",
        "",
        246,
        "SUSPENSE",
        None,
        "bank-entry:ref:B1/2",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:D1",
        "DBIT",
        False,
        16150,
        date(2026, 3, 10),
        "D1",
        "SETTLE-1465-20260310",
        None,
        "Leasing Polska S.A.",
        "",
        286,
        "UNMATCHED",
        None,
        None,
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R8",
        "CRDT",
        False,
        8000,
        date(2026, 3, 10),
        "R8",
        "E2E-77",
        None,
        "Leasing Polska S.A.",
        "?",
        362,
        "REVERSED",
        None,
        "bank-entry:ref:R8",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R9",
        "DBIT",
        True,
        8000,
        date(2026, 3, 10),
        "R9",
        "E2E-77",
        None,
        "Leasing Polska S.A.",
        "",
        404,
        "REVERSAL",
        None,
        "bank-entry:ref:R9",
        "ref:R8",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R10",
        "CRDT",
        False,
        10000,
        date(2026, 3, 10),
        "R10",
        None,
        "54116022020000005260250274",
        "Leasing Polska S.A.",
        "",
        442,
        "REVERSED",
        "5260250274",
        "bank-entry:ref:R10",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R11",
        "DBIT",
        True,
        10000,
        date(2026, 3, 10),
        "R11",
        None,
        None,
        "Leasing Polska S.A.",
        "",
        486,
        "REVERSAL",
        "5260250274",
        "bank-entry:ref:R11",
        "ref:R10",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R12",
        "DBIT",
        True,
        4500,
        date(2026, 3, 10),
        "R12",
        None,
        None,
        "Leasing Polska S.A.",
        "",
        526,
        "REVIEW",
        None,
        "bank-entry:ref:R12",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-1",
        "ref:R13",
        "CRDT",
        False,
        1234,
        date(2026, 3, 10),
        "R13",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        565,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:R13",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S1",
        "CRDT",
        False,
        100,
        date(2026, 3, 10),
        "S1",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        681,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S1",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S2",
        "CRDT",
        False,
        200,
        date(2026, 3, 10),
        "S2",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        722,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S2",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S3",
        "CRDT",
        False,
        300,
        date(2026, 3, 10),
        "S3",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        763,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S3",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S4",
        "CRDT",
        False,
        400,
        date(2026, 3, 10),
        "S4",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        804,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S4",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S5",
        "CRDT",
        False,
        500,
        date(2026, 3, 10),
        "S5",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        845,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S5",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "MIXED-2",
        "ref:S6",
        "CRDT",
        False,
        600,
        date(2026, 3, 10),
        "S6",
        None,
        None,
        "Leasing Polska S.A.",
        "NIP 5260250274",
        886,
        "TOPUP",
        "5260250274",
        "bank-entry:ref:S6",
        None,
        "2026-03-10T09:30:00+00:00",
    ),
]
TRANSFERS = [
    (
        "bank-entry:ref:B1/1",
        "POSTED",
        "SUSPENSE",
        "bank:escrow",
        "bank:suspense",
        1000,
        "B1 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:B1/2",
        "POSTED",
        "SUSPENSE",
        "bank:escrow",
        "bank:suspense",
        2000,
        "B1 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R1",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        150000,
        "R1 doładowanie",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R10",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        10000,
        "R10 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R11",
        "POSTED",
        "TOPUP",
        "company:5260250274",
        "bank:escrow",
        10000,
        "R11 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R12",
        "POSTED",
        "SUSPENSE",
        "bank:suspense",
        "bank:escrow",
        4500,
        "R12 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R13",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        1234,
        "R13 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R4",
        "POSTED",
        "SUSPENSE",
        "bank:escrow",
        "bank:suspense",
        7000,
        "R4 za fakturę 12/2026",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R8",
        "POSTED",
        "SUSPENSE",
        "bank:escrow",
        "bank:suspense",
        8000,
        "R8 ?",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:R9",
        "POSTED",
        "SUSPENSE",
        "bank:suspense",
        "bank:escrow",
        8000,
        "R9 Leasing Polska S.A.",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S1",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        100,
        "S1 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S2",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        200,
        "S2 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S3",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        300,
        "S3 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S4",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        400,
        "S4 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S5",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        500,
        "S5 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:ref:S6",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:5260250274",
        600,
        "S6 NIP 5260250274",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:7740001454",
        5000,
        "Dopłata, NIP 774-000-14-54",
        "2026-03-10T09:30:00+00:00",
    ),
    (
        "bank-entry:sha256:ebdf4315dd4f24d68cdb1b1bbd71cfe93db57129c4e7036d64252abc025e18c1#2",
        "POSTED",
        "TOPUP",
        "bank:escrow",
        "company:7740001454",
        5000,
        "Dopłata, NIP 774-000-14-54",
        "2026-03-10T09:30:00+00:00",
    ),
]
ACCOUNTS = [
    ("bank:escrow", 0, 191334, 0, 22500),
    ("bank:suspense", 0, 12500, 0, 18000),
    ("bank:transit", 0, 0, 0, 0),
    ("company:5260250274", 0, 10000, 0, 163334),
    ("company:7740001454", 0, 0, 0, 10000),
]


@pytest.mark.parametrize("apart", [False, True], ids=["parsed-here", "parsed-apart"])
@pytest.mark.parametrize("chunk", [4, statements.BOOKING_CHUNK])
def test_a_mixed_document_books_as_before_in_chunks_of_any_size(hub, monkeypatch, chunk, apart):
    monkeypatch.setattr(statements, "BOOKING_CHUNK", chunk)
    monkeypatch.setattr(camt_process, "APART_BYTES_MIN", 1024 if apart else camt_process.APART_BYTES_MIN)
    _companies(hub)
    result = hub.statements.import_document(_mixed(hub), actor=OPERATOR)
    ledger_holds(hub)
    entries, transfers, accounts = _booked(hub)
    assert entries == ENTRIES
    assert transfers == TRANSFERS
    assert accounts == ACCOUNTS
    assert (result.imported, result.duplicates, result.unmatched, result.ignored) == (14, 1, 5, 1)
    again = hub.statements.import_document(_mixed(hub), actor=OPERATOR)  # idempotent: nothing new
    assert (again.imported, again.duplicates, again.unmatched) == (0, 20, 0)
    assert _booked(hub) == (ENTRIES, TRANSFERS, ACCOUNTS)


def test_a_refusal_stops_the_process_that_parses_ahead(hub, parsing_children):
    """The entry in another currency is refused while the child has parsed further: it is
    stopped at once, and nothing is kept."""
    escrow = hub.config.bank.escrow_account
    many = [Entry(f"{i}.00", ref=f"X{i}") for i in range(1, 3000)]
    data = document(Statement(escrow, [Entry("1.00", currency="EUR", ref="X0"), *many]))
    with pytest.raises(StatementError, match="in EUR"):
        hub.statements.import_document(data, actor=OPERATOR)
    [child] = parsing_children
    assert child.process.returncode is not None  # stopped before the traceback let go of the reader
    assert not [thread for thread in threading.enumerate() if thread.name == "statement-to-parser"]
    assert _booked(hub)[0] == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_looks_up_each_key_of_a_chunk_by_the_index(hub):
    """`entry_key IN (...)` was planned as a scan of bank_entries, once a chunk (87 s for an
    import of 100,000 entries): each key must be one lookup by the unique index, whether the
    planner has statistics of the table or only its size, as within a long import."""
    escrow = hub.config.bank.escrow_account
    entries = [Entry(f"{i}.00", ref=f"R{i}") for i in range(1, 301)]
    hub.statements.import_document(document(Statement(escrow, entries)), actor=OPERATOR)
    sql = str(statements._STORED_KEYS["postgresql"].compile(dialect=hub.db.engine.dialect))
    keys = {"account": escrow, "keys": [f"ref:R{i}" for i in range(statements.BOOKING_CHUNK)]}
    with hub.db.engine.begin() as connection:
        plans = [connection.exec_driver_sql(f"EXPLAIN {sql}", keys).scalars().all()]
        connection.exec_driver_sql("ANALYZE bank_entries")
        plans.append(connection.exec_driver_sql(f"EXPLAIN {sql}", keys).scalars().all())
    for plan in plans:
        shown = "\n".join(line[:160] for line in plan)
        conditions = [line for line in plan if "Index Cond" in line]
        assert "Seq Scan on bank_entries" not in shown, shown
        # an index scan of it, or a bitmap one (the planner's pick for one row under some
        # statistics, seen in a full suite's run): either is one lookup a key
        scans = r"(Index Scan using|Index Only Scan using|Bitmap Index Scan on) uq_bank_entries_account"
        assert re.search(scans, shown), shown
        # by both columns: an index condition on the account alone reads all of its entries
        assert conditions and all("entry_key" in line for line in conditions), shown
