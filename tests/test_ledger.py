"""The ledger: holds, captures, releases, idempotency, and its invariants under
random operation sequences checked against a plain model (hypothesis)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from hub.access import Actor, operator
from hub.db.database import answers_later
from hub.errors import IdempotencyConflict, InsufficientFunds, LedgerInvariantError, NotAuthorized
from hub.ledger import Ledger, NewTransfer
from hub.ledger.checks import LedgerChecks
from hub.ledger.models import LedgerAccount
from hub.ledger.service import Balance
from hub.tables import metadata


def open_accounts(db):
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.open_account("bank", "ASSET")
        ledger.open_account("company:a", "COMPANY", no_overdraft=True)
        ledger.open_account("clearing", "CONTROL")


def test_hold_capture_part_releases_the_rest(db):
    open_accounts(db)
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.transfer("t1", "bank", "company:a", 100_00, "TOPUP")
        ledger.hold("h1", "company:a", "clearing", 100_00, "HOLD")
    with db.transaction() as s:
        b = Ledger(s).balance("company:a")
        assert (b.posted, b.held, b.available) == (100_00, 100_00, 0)
        Ledger(s).post("p1", "h1", 60_00, code="CAPTURE")
    with db.read() as s:
        ledger = Ledger(s)
        b = ledger.balance("company:a")
        assert (b.posted, b.held, b.available) == (40_00, 0, 40_00)
        assert ledger.balance("clearing").credits_posted == 60_00
        ledger.verify()


def test_a_pending_transfer_resolves_at_most_once(db):
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 50_00, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", 50_00, "HOLD")
        Ledger(s).void("v1", "h1", code="RELEASE")
    for attempt in (
        lambda ledger: ledger.post("p2", "h1", code="CAPTURE"),
        lambda ledger: ledger.void("v2", "h1", code="RELEASE"),
    ):
        with pytest.raises(LedgerInvariantError, match="already resolved"):
            with db.transaction() as s:
                attempt(Ledger(s))
    with db.read() as s:
        assert Ledger(s).balance("company:a").available == 50_00
        Ledger(s).verify()


def test_overdraft_is_refused_with_pending_holds_counted(db):
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 100_00, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", 70_00, "HOLD")
    with pytest.raises(InsufficientFunds) as e:
        with db.transaction() as s:
            Ledger(s).apply(
                [NewTransfer(f"h{i}", "company:a", "clearing", 20_00, "HOLD", pending=True) for i in (2, 3)]
            )
    assert (e.value.available_grosze, e.value.required_grosze) == (30_00, 40_00)
    assert e.value.detail == {"Available": "30.00", "Required": "40.00"}
    with db.read() as s:
        assert Ledger(s).balance("company:a").held == 70_00


def test_a_refused_transfer_leaves_nothing_and_its_id_can_be_booked_elsewhere(db):
    """Within one transaction: an overdraft refused by apply() takes back what it had
    booked, so the caller may send the same id to another account (a reversal the company
    can no longer cover goes to suspense, hub.bank.statements)."""
    open_accounts(db)
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.open_account("suspense", "CONTROL")
        ledger.transfer("t1", "bank", "company:a", 10_00, "TOPUP")
        with pytest.raises(InsufficientFunds):
            ledger.apply(
                [
                    NewTransfer("in", "clearing", "company:a", 5_00, "T"),
                    NewTransfer("rev", "company:a", "bank", 20_00, "REVERSAL"),
                ]
            )
        ledger.transfer("rev", "suspense", "bank", 20_00, "SUSPENSE")
    with db.read() as s:
        ledger = Ledger(s)
        assert ledger.balance("company:a").available == 10_00
        assert ledger.balance("clearing").posted == 0
        assert ledger.problems() == []


def test_transfers_are_idempotent_by_id(db):
    open_accounts(db)
    with db.transaction() as s:
        first = Ledger(s).transfer("t1", "bank", "company:a", 10_00, "TOPUP")
    with db.transaction() as s:
        again = Ledger(s).transfer("t1", "bank", "company:a", 10_00, "TOPUP")
        assert (again.id, again.created_at) == (first.id, first.created_at)
    with pytest.raises(IdempotencyConflict):
        with db.transaction() as s:
            Ledger(s).transfer("t1", "bank", "company:a", 11_00, "TOPUP")
    with db.read() as s:
        assert Ledger(s).balance("company:a").posted == 10_00


def test_many_accounts_and_transfers_at_once_are_found_in_chunks(db):
    """apply() looks its accounts up, and a repeat finds its stored transfers, at most
    KEYS_PER_QUERY_MAX keys a statement, a chunk padded to a power of two: 130 accounts and
    130 transfers span two chunks, the second of 2 keys; none is lost or found twice."""
    count = 130
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.open_account("bank", "ASSET")
        for i in range(count):
            ledger.open_account(f"company:{i:03d}", "COMPANY", no_overdraft=True)
    transfers = [NewTransfer(f"t{i}", "bank", f"company:{i:03d}", 100 + i, "TOPUP") for i in range(count)]
    with db.transaction() as s:
        made = Ledger(s).apply(transfers)
    with db.transaction() as s:
        again = Ledger(s).apply(transfers)  # every id stored already: read back, compared, not booked twice
    assert [t.id for t in made] == [t.id for t in again] == [f"t{i}" for i in range(count)]
    with db.read() as s:
        ledger = Ledger(s)
        assert [ledger.balance(f"company:{i:03d}").posted for i in (0, 127, 128, 129)] == [100, 227, 228, 229]
        assert ledger.balance("bank").debits_posted == sum(100 + i for i in range(count))
        ledger.verify()


def test_fresh_transfers_are_booked_as_apply_books_them_and_a_stored_id_fails_the_transaction(db):
    """apply_fresh (a statement import's transfers, their ids drawn in the transaction): on
    PostgreSQL the insert is sent and not awaited; the totals move as apply's do, the next
    statement sees the transfers, and an id stored already is the database's refusal, not
    idempotency: the transaction takes nothing."""
    open_accounts(db)
    many = [NewTransfer(f"fresh-{i}", "bank", "company:a", 100 + i, "TOPUP") for i in range(10)]
    with db.transaction() as s, answers_later(s.connection()):
        ledger = Ledger(s)
        assert [t.id for t in ledger.apply_fresh(many)] == [t.id for t in many]
        assert (
            ledger.apply_fresh([NewTransfer("fresh-one", "bank", "company:a", 5_00, "TOPUP")])[0].amount_grosze == 5_00
        )
        assert ledger.apply_fresh([]) == []
        assert s.execute(text("SELECT count(*) FROM ledger_transfers")).scalar_one() == 11
    posted = sum(100 + i for i in range(10)) + 5_00
    with pytest.raises(IntegrityError), db.transaction() as s, answers_later(s.connection()):
        Ledger(s).apply_fresh([NewTransfer("new", "bank", "company:a", 1_00, "TOPUP"), many[3]])
    with db.read() as s:
        ledger = Ledger(s)
        assert ledger.balance("company:a").posted == ledger.balance("bank").debits_posted == posted
        assert s.execute(text("SELECT count(*) FROM ledger_transfers")).scalar_one() == 11
        ledger.verify()


def test_a_fresh_transfer_refused_for_funds_leaves_nothing_though_its_insert_was_not_awaited(db):
    open_accounts(db)
    with db.transaction() as s, answers_later(s.connection()):
        ledger = Ledger(s)
        ledger.apply_fresh([NewTransfer("in", "bank", "company:a", 10_00, "TOPUP")])
        with pytest.raises(InsufficientFunds):
            ledger.apply_fresh([NewTransfer("out", "company:a", "bank", 20_00, "REVERSAL")])
        ledger.apply_fresh([NewTransfer("out", "company:a", "bank", 4_00, "REVERSAL")])  # the id is free again
    with db.read() as s:
        ledger = Ledger(s)
        assert ledger.balance("company:a").available == 6_00
        assert ledger.problems() == []


def test_verify_finds_totals_that_disagree_with_transfers(db):
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 10_00, "TOPUP")
    with db.transaction() as s:  # what a bug or a hand edit would do
        s.execute(update(LedgerAccount).where(LedgerAccount.code == "bank").values(debits_posted=9_00))
    with (
        db.read() as s,
        pytest.raises(
            LedgerInvariantError,
            match=r"account bank: debits_posted 9.00 PLN, its transfers give 10.00 PLN \(difference -1.00\)",
        ),
    ):
        Ledger(s).verify()


# -- property-based: random sequences against a model -------------------------

ACCOUNTS = {"bank": False, "company:a": True, "company:b": True, "clearing": False}
amounts = st.integers(min_value=1, max_value=50_000)


class LedgerMachine(RuleBasedStateMachine):
    """The model: per account [debits_pending, debits_posted, credits_pending,
    credits_posted]; pending holds and whether each is resolved."""

    db = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        with self.db.transaction() as s:
            for table in reversed(metadata.sorted_tables):
                s.execute(delete(table))
            for code, protected in ACCOUNTS.items():
                Ledger(s).open_account(code, "COMPANY" if protected else "OTHER", no_overdraft=protected)
        self.model = {code: [0, 0, 0, 0] for code in ACCOUNTS}
        self.pending: dict[str, tuple[str, str, int]] = {}
        self.resolved: set[str] = set()
        self.transfers: dict[str, tuple] = {}

    def available(self, code: str) -> int:
        dp, dpo, _, cpo = self.model[code]
        return cpo - dpo - dp

    def _apply(self, id, debit, credit, amount, pending):
        try:
            with self.db.transaction() as s:
                Ledger(s).apply([NewTransfer(id, debit, credit, amount, "T", pending=pending)])
        except InsufficientFunds:
            assert ACCOUNTS[debit] and amount > self.available(debit), "refused though funds were there"
            return
        assert not (ACCOUNTS[debit] and amount > self.available(debit)), "overdraft was let through"
        offset = 0 if pending else 1
        self.model[debit][offset] += amount
        self.model[credit][2 + offset] += amount
        self.transfers[id] = (debit, credit, amount, pending)
        if pending:
            self.pending[id] = (debit, credit, amount)

    @rule(
        debit=st.sampled_from(sorted(ACCOUNTS)),
        credit=st.sampled_from(sorted(ACCOUNTS)),
        amount=amounts,
        pending=st.booleans(),
    )
    def transfer(self, debit, credit, amount, pending):
        if debit != credit:
            self._apply(str(uuid.uuid4()), debit, credit, amount, pending)

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def replay_a_transfer(self, data):
        id = data.draw(st.sampled_from(sorted(self.transfers)))
        debit, credit, amount, pending = self.transfers[id]
        with self.db.transaction() as s:
            Ledger(s).apply([NewTransfer(id, debit, credit, amount, "T", pending=pending)])  # no second effect

    @precondition(lambda self: self.pending)
    @rule(
        data=st.data(),
        part=st.floats(min_value=0.0, max_value=1.3),
        void=st.booleans(),
        onward_to=st.sampled_from([None, *sorted(ACCOUNTS)]),
        onward_amount=amounts,
    )
    def resolve(self, data, part, void, onward_to, onward_amount):
        """A capture may pay onwards from its credit account in the same insert (a redeem's
        payment to the office): all or none; refused, as `apply` would refuse it, where that
        account is protected and its available funds before the capture do not cover it."""
        id = data.draw(st.sampled_from(sorted(self.pending)))
        debit, credit, amount = self.pending[id]
        post_amount = max(1, int(amount * part))
        should_fail = id in self.resolved or (not void and post_amount > amount)
        onward = (
            []
            if void or onward_to in (None, credit)
            else [NewTransfer(f"o:{uuid.uuid4()}", credit, onward_to, onward_amount, "T")]
        )
        refused = bool(onward) and not should_fail and ACCOUNTS[credit] and onward_amount > self.available(credit)
        try:
            with self.db.transaction() as s:
                if void:
                    Ledger(s).void(f"v:{uuid.uuid4()}", id, code="RELEASE")
                else:
                    Ledger(s).post(f"p:{uuid.uuid4()}", id, post_amount, code="CAPTURE", onward=onward)
        except LedgerInvariantError:
            assert should_fail, "a valid resolution was refused"
            return
        except InsufficientFunds:
            assert refused, "an onward transfer was refused though funds were there"
            return
        assert not should_fail, "a pending transfer resolved twice or over its amount"
        assert not refused, "an onward transfer overdrew its account"
        self.resolved.add(id)
        self.model[debit][0] -= amount
        self.model[credit][2] -= amount
        if not void:
            self.model[debit][1] += post_amount
            self.model[credit][3] += post_amount
        for t in onward:
            self.model[t.debit][1] += t.amount_grosze
            self.model[t.credit][3] += t.amount_grosze

    @invariant()
    def matches_the_model_and_holds_together(self):
        with self.db.read() as s:
            ledger = Ledger(s)
            for code in ACCOUNTS:
                b = ledger.balance(code)
                assert [b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted] == self.model[code], (
                    code
                )
                if ACCOUNTS[code]:
                    assert b.available >= 0
            ledger.verify()  # derived totals, debits == credits, nothing resolved twice


def test_only_the_operator_checks_the_ledger(db):
    checks = LedgerChecks(db)
    with pytest.raises(NotAuthorized):
        checks.run(actor=Actor("client:pojazd-1465", offices=frozenset({"1465"})))
    assert checks.run(actor=operator("test")).ok


def test_random_operation_sequences_keep_the_invariants(db):
    LedgerMachine.db = db
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )


def _stored_totals(db, code: str) -> tuple[int, int, int, int]:
    """The account's row as another connection sees it (committed), not through the ledger."""
    with db.read() as other:  # a transaction of its own (SQLite: a deferred one, no write lock)
        row = other.execute(
            select(
                LedgerAccount.debits_pending,
                LedgerAccount.debits_posted,
                LedgerAccount.credits_pending,
                LedgerAccount.credits_posted,
            ).where(LedgerAccount.code == code)
        ).one()
    return tuple(row)


def test_moves_that_cannot_be_refused_wait_for_the_commit_and_the_transaction_sees_them(db):
    """A capture and the payment onwards from an unprotected account are held for the commit
    (each account moved once: hub.ledger.service._HeldMoves); a read of totals in the same
    transaction makes them first. A hold on a protected account can be refused, so it moves at once."""
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).open_account("office:1", "OFFICE")
        Ledger(s).transfer("t1", "bank", "company:a", 100_00, "TOPUP")
    with db.transaction() as s:
        Ledger(s).hold("h1", "company:a", "clearing", 100_00, "HOLD")
        assert _stored_totals(db, "company:a") == (0, 0, 0, 100_00)  # not committed yet, by nobody's read
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.post("p1", "h1", 60_00, code="CAPTURE")
        ledger.transfer("e1", "clearing", "office:1", 60_00, "EARNING")
        assert Ledger(s).balance("clearing").credits_posted == 60_00  # another Ledger, same transaction
    with db.read() as s:
        ledger = Ledger(s)
        assert (ledger.balance("company:a").posted, ledger.balance("company:a").held) == (40_00, 0)
        assert ledger.balance("clearing") == Balance(0, 60_00, 0, 60_00)
        assert ledger.balance("office:1").credits_posted == 60_00
        ledger.verify()


def test_held_moves_leave_the_accounts_unlocked_until_the_commit(pg_db):
    """PostgreSQL, seen from another connection while the capturing transaction is still open:
    the clearing account's and the company's rows can be locked at once (NOWAIT), since their
    totals are not moved before the commit; after it they are."""
    db = pg_db
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 100_00, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", 100_00, "HOLD")
    lock = text(
        "SELECT credits_posted FROM ledger_accounts WHERE code IN ('clearing', 'company:a') FOR NO KEY UPDATE NOWAIT"
    )
    with db.transaction() as s:
        Ledger(s).post("p1", "h1", code="CAPTURE")
        with db.engine.begin() as other:
            assert other.execute(lock).all()  # would raise "could not obtain lock" were they moved already
    assert _stored_totals(db, "clearing") == (0, 0, 0, 100_00)
    assert _stored_totals(db, "company:a") == (0, 100_00, 0, 100_00)


def test_a_held_move_that_fails_at_the_commit_undoes_the_whole_transaction(db):
    """The totals a held move leaves are checked at the commit by the server, not read back: a
    clearing account whose pending total was tampered with would go below zero, the
    `totals_not_negative` CHECK refuses it, and nothing of the transaction stays (the capture's
    transfer neither)."""
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 100_00, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", 100_00, "HOLD")
    with db.transaction() as s:
        s.execute(update(LedgerAccount).where(LedgerAccount.code == "clearing").values(credits_pending=0))
    with pytest.raises(IntegrityError, match="totals_not_negative"), db.transaction() as s:
        Ledger(s).post("p1", "h1", code="CAPTURE")
    with db.read() as s:
        assert Ledger(s).resolution("h1") is None
        assert Ledger(s).balance("company:a").held == 100_00


def test_on_postgresql_the_held_moves_take_one_round_trip_at_the_commit(pg_db, tmp_path):
    """The capture's two accounts are moved by two UPDATEs sent together (one Sync: one round
    trip), then COMMIT, read from libpq's trace of the commit."""
    db = pg_db
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", 100_00, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", 100_00, "HOLD")
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        with db.transaction() as s:
            Ledger(s).post("p1", "h1", code="CAPTURE")
            raw = s.connection().connection.driver_connection
            raw.pgconn.trace(out.fileno())  # from here: the held moves and the COMMIT
        raw.pgconn.untrace()
    lines = [line.split("\t") for line in trace.read_text().splitlines()]
    sent = [parts[3].split(" ", 1)[0] for parts in lines if len(parts) > 3 and parts[1] == "F"]
    assert (sent.count("Execute"), sent.count("Sync"), sent.count("Query")) == (2, 1, 1), sent
    assert _stored_totals(db, "clearing") == (0, 0, 0, 100_00)
    assert _stored_totals(db, "company:a") == (0, 100_00, 0, 100_00)


def _held(db, amount=100_00):
    open_accounts(db)
    with db.transaction() as s:
        Ledger(s).transfer("t1", "bank", "company:a", amount, "TOPUP")
        Ledger(s).hold("h1", "company:a", "clearing", amount, "HOLD")


def test_an_expected_account_comes_with_the_next_read_and_is_not_read_again(tmp_path):
    """`Ledger.expect`: the office's account of a capture is read with the hold's read, and
    then opened without a statement of its own (SQLite's trace of the transaction)."""
    from hub.db.database import Database

    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    metadata.create_all(db.engine)
    _held(db)
    with db.transaction() as s:
        Ledger(s).open_account("office:1465", "OFFICE")
    statements: list[str] = []
    with db.transaction() as s:
        s.connection().connection.driver_connection.set_trace_callback(statements.append)
        ledger = Ledger(s)
        ledger.expect("office:1465")
        ledger.post("p1", "h1", code="CAPTURE")
        reads = len(statements)
        office = ledger.open_account("office:1465", "OFFICE")
        ledger.transfer("earn1", "clearing", "office:1465", 100_00, "EARNING")
        s.connection().connection.driver_connection.set_trace_callback(None)
    assert office.code == "office:1465" and office.kind == "OFFICE"
    assert [sql for sql in statements[reads:] if "FROM ledger_accounts" in sql] == []  # no lookup of its own
    assert any("ledger_accounts.code IN ('office:1465')" in sql for sql in statements[:reads]), statements
    assert _stored_totals(db, "office:1465") == (0, 0, 0, 100_00)


def test_an_account_read_ahead_and_moved_since_is_read_again(db):
    """What `expect` brought is the account as it was read: a move made since (the company's
    payout, which runs at once as it raises a protected account's debits) makes the ledger
    read it again."""
    _held(db)
    with db.transaction() as s:
        Ledger(s).transfer("t2", "bank", "company:a", 40_00, "TOPUP")
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.expect("company:a")
        assert ledger.account("bank").kind == "ASSET"  # company:a comes along
        ledger.transfer("pay1", "company:a", "bank", 30_00, "PAYOUT")  # runs now: it could be refused
        assert Balance.of(ledger.account("company:a")).totals == (100_00, 30_00, 0, 140_00)


def test_an_account_read_ahead_with_moves_held_for_the_commit_has_them_made_first(db):
    """A capture's moves wait for the commit; an account they move, read ahead before them,
    is read again once they are made, as any read of totals in the transaction."""
    _held(db)
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.expect("clearing")
        ledger.post("p1", "h1", 60_00, code="CAPTURE")  # clearing comes along, then its move is held
        assert Balance.of(ledger.account("clearing")).totals == (0, 0, 0, 60_00)


def test_a_capture_and_its_onward_transfer_are_one_insert_all_or_none_and_a_retry_changes_nothing(db):
    """`Ledger.post(..., onward=...)`, as a redeem pays the office from clearing: both made in
    one transaction, the accounts moved as two calls would move them; a retry with the same
    ids gives them back and moves nothing; an onward transfer stored with other content is
    an IdempotencyConflict, and the capture does not stay either."""
    _held(db)
    earn = NewTransfer("earn1", "clearing", "bank", 60_00, "EARNING")
    with db.transaction() as s:
        capture = Ledger(s).post("p1", "h1", 60_00, code="CAPTURE", onward=[earn])
    assert (capture.id, capture.amount_grosze) == ("p1", 60_00)
    expected = {"company:a": (0, 60_00, 0, 100_00), "clearing": (0, 60_00, 0, 60_00), "bank": (0, 100_00, 0, 60_00)}
    assert {code: _stored_totals(db, code) for code in expected} == expected
    with db.transaction() as s:
        again = Ledger(s).post("p1", "h1", 60_00, code="CAPTURE", onward=[earn])
    assert (again.id, again.created_at) == (capture.id, capture.created_at)
    assert {code: _stored_totals(db, code) for code in expected} == expected

    with db.transaction() as s:
        Ledger(s).transfer("t2", "bank", "company:a", 50_00, "TOPUP")
        Ledger(s).hold("h2", "company:a", "clearing", 50_00, "HOLD")
        Ledger(s).transfer("earn2", "clearing", "bank", 1_00, "EARNING")  # the id taken, other content
    before = {code: _stored_totals(db, code) for code in expected}
    with pytest.raises(IdempotencyConflict), db.transaction() as s:
        Ledger(s).post("p2", "h2", code="CAPTURE", onward=[NewTransfer("earn2", "clearing", "bank", 50_00, "EARNING")])
    assert {code: _stored_totals(db, code) for code in expected} == before
    with db.read() as s:
        assert Ledger(s).resolution("h2") is None
        assert Ledger(s).problems() == []


def test_an_expected_account_to_open_is_opened_at_the_read_or_refused_as_another_kind(db):
    """`Ledger.expect(..., opening=kind)`: read with the hold's read; not there, opened then, and
    the capture's onward payment finds it; there as another kind, LedgerInvariantError."""
    _held(db)
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.expect("office:0001", opening="OFFICE")
        ledger.post("p1", "h1", code="CAPTURE", onward=[NewTransfer("earn1", "clearing", "office:0001", 100_00, "E")])
    with db.read() as s:
        assert Ledger(s).account("office:0001").kind == "OFFICE"
    assert _stored_totals(db, "office:0001") == (0, 0, 0, 100_00)
    with pytest.raises(LedgerInvariantError, match="exists as ASSET"), db.transaction() as s:
        ledger = Ledger(s)
        ledger.expect("bank", opening="OFFICE")
        ledger.balance("company:a")


def test_an_expected_account_that_does_not_exist_is_made_by_open_account(db):
    _held(db)
    with db.transaction() as s:
        ledger = Ledger(s)
        ledger.expect("office:0001")
        ledger.post("p1", "h1", code="CAPTURE")
        office = ledger.open_account("office:0001", "OFFICE")
        ledger.transfer("earn1", "clearing", "office:0001", 100_00, "EARNING")
    assert office.kind == "OFFICE"
    assert _stored_totals(db, "office:0001") == (0, 0, 0, 100_00)
