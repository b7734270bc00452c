"""Property tests of the statement import: a random statement whose balances add up imports
and moves exactly its booked credits; any one digit of any booked amount or balance changed
refuses it with nothing written; importing an accepted document again changes nothing.

(A digit changed in a pending entry's amount cannot be caught: pending entries are not in the
balances, by ISO 20022's definition of them, and are not booked either.)"""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import NotFound, StatementError
from hub.ledger.chart import ESCROW
from tests.support.bank import balance, ledger_holds, snapshot
from tests.support.camt import Entry, Statement, document
from tests.support.factories import OPERATOR

# Each example runs on the test's one database: fresh statement ids and references keep the
# examples apart, and every assertion is about what one import changed.
_ids = itertools.count(1)
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

grosze = st.integers(min_value=1, max_value=10**9)
statuses = st.sampled_from(["BOOK", "BOOK", "BOOK", "PDNG", "INFO", "FUTR"])
trailing = st.sampled_from(["", "0", "000"])  # trailing zeros past the grosz, as some banks write them


def escrow_balance(hub) -> int:
    try:
        return balance(hub, ESCROW)
    except NotFound:  # opened by the first import
        return 0


def written(amount_grosze: int, zeros: str) -> str:
    return f"{amount_grosze // 100}.{amount_grosze % 100:02d}{zeros}"


@st.composite
def statements(draw, *, booked_only: bool = False):
    """(entries of one statement, its opening balance in grosze, the trailing zeros of its balances)."""
    rows = draw(
        st.lists(
            st.tuples(
                grosze, st.sampled_from(["CRDT", "DBIT"]), st.just("BOOK") if booked_only else statuses, trailing
            ),
            min_size=1,
            max_size=6,
        )
    )
    return rows, draw(st.integers(min_value=-(10**9), max_value=10**9)), draw(trailing)


def build(hub, rows, opening: int, zeros: str) -> tuple[bytes, int, int]:
    """The document, its booked credits and its number of booked entries."""
    n = next(_ids)
    entries = [Entry(written(a, z), direction=d, status=s, ref=f"P{n}-{i}") for i, (a, d, s, z) in enumerate(rows)]
    credits = sum(a for a, d, s, _ in rows if s == "BOOK" and d == "CRDT")
    debits = sum(a for a, d, s, _ in rows if s == "BOOK" and d == "DBIT")
    closing = opening + credits - debits
    sign = lambda g: ("-" if g < 0 else "") + written(abs(g), zeros)  # noqa: E731
    data = document(
        Statement(
            hub.config.bank.escrow_account,
            entries,
            statement_id=f"P-{n}",
            sequence=str(n),
            opening=sign(opening),
            closing=sign(closing),
        )
    )
    return data, credits, sum(1 for _, _, s, _ in rows if s == "BOOK")


@PROPERTY
@given(statement=statements())
def test_a_statement_that_adds_up_imports_and_moves_exactly_its_booked_credits(hub, statement):
    data, credits, booked = build(hub, *statement)
    escrow_before = escrow_balance(hub)
    result = hub.statements.import_document(data, actor=OPERATOR)
    # Credits go to suspense (no company is named); debits are the hub's own transfers, kept for settlement.
    assert escrow_balance(hub) - escrow_before == -credits
    assert (result.imported + result.unmatched, result.duplicates, result.ignored) == (
        booked,
        0,
        len(statement[0]) - booked,
    )
    ledger_holds(hub)
    before = snapshot(hub)
    again = hub.statements.import_document(data, actor=OPERATOR)
    assert (again.imported, again.unmatched, again.duplicates) == (0, 0, booked)
    assert snapshot(hub) == before


@PROPERTY
@given(statement=statements(booked_only=True), data=st.data())
def test_any_one_digit_changed_in_any_amount_or_balance_refuses_the_statement(hub, statement, data):
    document_bytes, _, _ = build(hub, *statement)
    amounts = [m for m in re.finditer(rb'<Amt Ccy="PLN">([0-9.]+)</Amt>', document_bytes)]
    amount = data.draw(st.sampled_from(amounts))
    digits = [amount.start(1) + i for i, c in enumerate(amount.group(1)) if chr(c).isdigit()]
    at = data.draw(st.sampled_from(digits))
    new = data.draw(st.sampled_from([d for d in b"0123456789" if d != document_bytes[at]]))
    changed = document_bytes[:at] + bytes([new]) + document_bytes[at + 1 :]
    before = snapshot(hub)
    try:
        hub.statements.import_document(changed, actor=OPERATOR)
    except StatementError as error:
        assert "does not add up" in error.problem or "past the grosz" in error.problem
    else:
        raise AssertionError(
            f"a changed digit was imported: {amount.group(1)!r} at {at - amount.start(1)} -> {chr(new)}"
        )
    assert snapshot(hub) == before
