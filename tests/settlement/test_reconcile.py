"""Reconciliation: the escrow statement's debits book the settlements the bank took;
anything that does not fit stays unmatched and is reported."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from hub.audit.models import AuditEvent
from hub.bank.models import BankEntry
from hub.fakebank.camt import DEBIT, StatementEntry, statement_xml
from hub.settlement.models import BOOKED, PENDING, RETURNED, SENT
from tests.support.settlement import DAY, E2E, OPERATOR, books_balance, settled, settlement

NEXT_DAY = DAY + timedelta(days=1)


def import_statement(hub, document: bytes):
    return hub.statements.import_document(document, actor=OPERATOR)


def entry_statuses(hub) -> dict[str, str]:
    with hub.db.read() as session:
        return {
            e.end_to_end_id: e.status for e in session.scalars(select(BankEntry).where(BankEntry.direction == DEBIT))
        }


def test_the_statement_books_what_the_bank_took(hub, clock, bank):
    settled(hub, clock, offices=("1465", "1261"))
    hub.settlements.send(actor=OPERATOR)
    before = books_balance(hub)
    assert before["bank:transit"] == 323_00
    result = import_statement(hub, bank.statement(NEXT_DAY))
    assert (result.imported, result.unmatched) == (2, 0)  # the hub's own debits, reconciled in the import's transaction
    assert {s.end_to_end_id: s.status for s in hub.settlements.list(actor=OPERATOR) if s.end_to_end_id} == {
        E2E: BOOKED,
        "HUB-1261-20260310-1": BOOKED,
    }
    assert set(entry_statuses(hub).values()) == {"MATCHED"}
    after = books_balance(hub)
    assert (after["bank:transit"], after["bank:escrow"] - before.get("bank:escrow", 0)) == (0, 323_00)

    import_statement(hub, bank.statement(NEXT_DAY))  # the same statement again: nothing twice
    assert books_balance(hub) == after
    assert hub.settlements.reconcile(actor=OPERATOR).booked == []


def test_a_statement_before_the_banks_answer_books_it_all_the_same(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="twice")  # the bank took it, the answer was lost
    hub.settlements.send(actor=OPERATOR)
    assert settlement(hub).status == PENDING
    import_statement(hub, bank.statement(NEXT_DAY))
    assert settlement(hub).status == BOOKED
    bank.control(mode="ok")
    clock.advance(minutes=5)
    hub.settlements.send(actor=OPERATOR)
    s = settlement(hub)
    assert (s.status, s.bank_reference) == (BOOKED, bank.transfers()[E2E]["bank_reference"])
    assert books_balance(hub)["bank:transit"] == 0


def test_a_debit_of_another_amount_stays_unmatched_and_is_reported(hub, clock, bank):
    settled(hub, clock)
    hub.settlements.send(actor=OPERATOR)
    wrong = StatementEntry(
        NEXT_DAY, DEBIT, 150_00, "BANKREF-X1", E2E, "Urząd", hub.config.office("1465").account, "przelew"
    )
    document = statement_xml(
        hub.config.bank.escrow_account, "PLN", [wrong], 0, "STMT-WRONG-1", datetime.now(UTC), NEXT_DAY
    )
    import_statement(hub, document)
    assert settlement(hub).status == SENT
    assert entry_statuses(hub) == {E2E: "UNMATCHED"}
    assert books_balance(hub)["bank:transit"] == 161_50
    run = hub.settlements.reconcile(actor=OPERATOR)
    assert run.booked == [] and len(run.mismatches) == 1
    assert (
        "debits 150.00 for EndToEndId HUB-1465-20260310-1, but that settlement is SENT for 161.50" in run.mismatches[0]
    )
    with hub.db.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "settlement.mismatch")).all()
    assert len(events) == 1 and "150.00" in events[0].detail


def test_a_debit_that_names_no_settlement_is_left_alone(hub, clock, bank):
    settled(hub, clock)
    other = StatementEntry(
        NEXT_DAY, DEBIT, 12_00, "BANKREF-FEE", "BANK-FEE-2026-03", "Bank", None, "opłata za prowadzenie rachunku"
    )
    document = statement_xml(
        hub.config.bank.escrow_account, "PLN", [other], 0, "STMT-FEE-1", datetime.now(UTC), NEXT_DAY
    )
    import_statement(hub, document)
    assert entry_statuses(hub) == {"BANK-FEE-2026-03": "UNMATCHED"}
    assert hub.settlements.reconcile(actor=OPERATOR).mismatches == []


def test_a_returned_payout_is_owed_again(hub, clock, bank):
    settled(hub, clock)
    hub.settlements.send(actor=OPERATOR)
    import_statement(hub, bank.statement(NEXT_DAY))
    assert settlement(hub).status == BOOKED
    escrow = books_balance(hub)["bank:escrow"]

    later = NEXT_DAY + timedelta(days=1)
    bank.control(**{"return": E2E, "text": "Zwrot: rachunek zamknięty", "date": later.isoformat()})
    clock.advance(days=1)
    import_statement(hub, bank.statement(later))
    s = settlement(hub)
    assert (s.status, s.reject_reason) == (RETURNED, "Zwrot: rachunek zamknięty")
    balances = books_balance(hub)
    assert (balances["office:1465"], balances["bank:escrow"] - escrow) == (161_50, -161_50)
    clock.advance(days=1)
    again = {x.office_code: x for x in hub.settlements.settle(later, actor=OPERATOR).settlements}["1465"]
    assert (again.status, again.amount_grosze) == (PENDING, 161_50)


def test_unreconciled_lists_what_no_statement_booked_after_n_days(hub, clock, bank):
    settled(hub, clock, offices=("1465", "1261"))
    hub.settlements.send(actor=OPERATOR)
    assert hub.settlements.unreconciled(3, actor=OPERATOR) == []
    clock.advance(days=3)
    assert sorted(s.end_to_end_id for s in hub.settlements.unreconciled(3, actor=OPERATOR)) == [
        "HUB-1261-20260310-1",
        E2E,
    ]
    import_statement(hub, bank.statement(NEXT_DAY))
    assert hub.settlements.unreconciled(3, actor=OPERATOR) == []


def test_a_day_s_statement_fetched_after_a_later_day_s_still_comes_first_without_a_gap(hub, bank):
    """The fake bank stamps a finished day's statement with the day's end, as a bank makes it,
    not with the time it is fetched: fetched late, an earlier day still sorts before the later
    one (its statements carry no ElctrncSeqNb), and the balances follow on without a gap."""
    for on, amount in ((NEXT_DAY, "500.00"), (NEXT_DAY + timedelta(days=1), "20.00")):
        bank.control(credit=f"PL54116022020000005260250274:{amount}:Zasilenie 5260250274:{on.isoformat()}")
    later = import_statement(hub, bank.statement(NEXT_DAY + timedelta(days=1)))
    earlier = import_statement(hub, bank.statement(NEXT_DAY))
    listing = hub.statements.statements(actor=OPERATOR)
    assert [(v.opening_grosze, v.closing_grosze, v.gaps) for v in listing] == [(0, 500_00, ()), (500_00, 520_00, ())]
    assert [v.created_at for v in listing] == [
        datetime.combine(NEXT_DAY, time(23, 59, 59), UTC),
        datetime.combine(NEXT_DAY + timedelta(days=1), time(23, 59, 59), UTC),
    ]
    assert (later.gaps, earlier.gaps) == ((), ())
