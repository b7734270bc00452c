"""The ledger's one service. Works inside the caller's transaction, so a domain
operation and its transfers commit or roll back together.

Every write is a handful of Core statements on the session's connection, run on the
driver itself (hub.db.database.DriverStatement), no ORM objects: the transfers go
in first (one multi-row `INSERT ... ON CONFLICT DO NOTHING`, so a transfer id already
there, or being inserted by a concurrent transaction, is found instead of failing the
transaction), then each account's
totals move by one conditional `UPDATE ... WHERE <no overdraft> RETURNING`, in
account id order so two writers cannot deadlock. The UPDATE takes the row lock
and checks the limit against the totals it locked (PostgreSQL re-reads the row
when it had to wait); a refused UPDATE is read back under the lock to say what
was available. The `no_overdraft` and `totals_not_negative` CHECK constraints stay the
backstop, and the totals each UPDATE returns are checked again (`_check_after`). On SQLite the
whole write transaction already holds the database lock (`BEGIN IMMEDIATE`).

Moves that cannot be refused (a capture's and a release's, which never raise a
protected account's debits, and a payment onwards from an unprotected account) wait
for the transaction's commit (`_HeldMoves`, run by hub.db.database.BeforeCommit),
each account's deltas summed: the coupon clearing account, which every capture
moves, is then locked from just before the commit, not through the rest of the
work, the answer's building and its signature. A read of totals in the same
transaction, and any move that must run at once, makes them first.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from hub.clock import Clock, utcnow
from hub.db.database import (
    BEFORE_COMMIT,
    BulkInsert,
    DriverStatement,
    Sent,
    driver_insert_if_absent,
    insert_if_absent,
    pipelined,
    sent_then_checked,
)
from hub.errors import IdempotencyConflict, InsufficientFunds, LedgerInvariantError, NotFound
from hub.ledger.codes import TransferKind
from hub.ledger.models import LedgerAccount, LedgerTransfer
from hub.money import format_pln

POSTED, PENDING, POST, VOID = (TransferKind.POSTED, TransferKind.PENDING, TransferKind.POST, TransferKind.VOID)
KEYS_PER_QUERY_MAX = 128  # codes or ids in one `IN (...)`

_ACCOUNTS = cast(Table, LedgerAccount.__table__)
_TRANSFERS = cast(Table, LedgerTransfer.__table__)
_A, _T = _ACCOUNTS.c, _TRANSFERS.c
_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
_ACCOUNT_COLUMNS = (
    _A.id,
    _A.code,
    _A.kind,
    _A.debits_must_not_exceed_credits,
    *(_A[name] for name in _TOTALS),
    _A.created_at,
)
_TRANSFER_NAMES = tuple(LedgerTransfer.__table__.columns.keys())
_TRANSFER_COLUMNS = tuple(_T[name] for name in _TRANSFER_NAMES)
# Many transfers at once (a statement import's chunk): one statement, compiled once.
_NEW_TRANSFERS = BulkInsert(_TRANSFERS, _TRANSFER_NAMES, returning=("id",))
# Transfers whose ids nobody can have stored (`Ledger.apply_fresh`): a stored id fails the insert.
_FRESH_TRANSFERS = BulkInsert(_TRANSFERS, _TRANSFER_NAMES, skip_stored=False)

_NEW_TRANSFER = driver_insert_if_absent(_TRANSFERS, returning="id")  # by dialect name
# A few transfers at once (a capture with its payment onwards: `Ledger.post(..., onward=...)`)
# go in one multi-row INSERT, compiled once a count: BulkInsert's arrays cost psycopg about what
# the statement saved, and SQLite takes three statements for them.
FEW_TRANSFERS_MAX = 4


@functools.cache
def _new_few_transfers(dialect: str, count: int) -> DriverStatement:
    """`count` transfers' INSERT, those whose id is stored already left out; the ids made come
    back. Values `<column>_<i>`, the i-th transfer's (`_few_values`)."""
    rows = [{name: bindparam(f"{name}_{i}", type_=_T[name].type) for name in _TRANSFER_NAMES} for i in range(count)]
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_TRANSFERS).values(rows)
    return DriverStatement(statement.on_conflict_do_nothing().returning(_T.id))


def _few_values(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in _TRANSFER_NAMES}


# Built once (a statement keeps its compiled form): these run on every hold and capture.
# FOR NO KEY UPDATE, the lock the UPDATE itself takes: a plain FOR UPDATE would wait for the
# KEY SHARE locks that inserting transfers puts on their accounts (foreign keys), and two
# writers each holding one would deadlock.
_LOCK_ACCOUNT = DriverStatement(
    select(*_ACCOUNT_COLUMNS).where(_A.id == bindparam("account_id")).with_for_update(key_share=True)
)
# The pending transfer, a transfer stored under the new id, any resolution; with the codes of
# their accounts (`debit_code`, `credit_code`), which the ledger then knows without a lookup.
_DEBITED, _CREDITED = _ACCOUNTS.alias("debited"), _ACCOUNTS.alias("credited")
_RESOLVING = DriverStatement(
    select(
        *_TRANSFER_COLUMNS,
        _DEBITED.c.code.label("debit_code"),
        _DEBITED.c.debits_must_not_exceed_credits.label("debit_protected"),
        _CREDITED.c.code.label("credit_code"),
        _CREDITED.c.debits_must_not_exceed_credits.label("credit_protected"),
    )
    .join(_DEBITED, _DEBITED.c.id == _T.debit_account_id)
    .join(_CREDITED, _CREDITED.c.id == _T.credit_account_id)
    .where(or_(_T.id.in_((bindparam("pending_id"), bindparam("id"))), _T.pending_id == bindparam("pending_id")))
)
# Takes back what _MOVE_TOTALS added, when a later account of the same transfers is refused.
_DELETE_TRANSFERS = delete(_TRANSFERS).where(_T.id.in_(bindparam("ids", expanding=True)))
# Moves an account's four totals by the deltas given, with no condition and nothing returned:
# the moves held for the commit (`_send_held_totals`), which none can refuse and the table's
# CHECKs check, and the moves taken back when a later account of the same transfers is refused
# (`Ledger._take_back`, the deltas negated).
_ADD_TO_TOTALS = DriverStatement(
    update(_ACCOUNTS)
    .where(_A.id == bindparam("account_id"))
    .values({name: _A[name] + bindparam(f"add_{name}") for name in _TOTALS})
)
# Moves an account's four totals by the deltas given, if its debits (posted and pending,
# plus `debits_added`) stay within its posted credits where it is protected; else no row.
_MOVE_TOTALS = DriverStatement(
    update(_ACCOUNTS)
    .where(
        _A.id == bindparam("account_id"),
        or_(
            _A.debits_must_not_exceed_credits.is_(False),
            _A.debits_posted + _A.debits_pending + bindparam("debits_added") <= _A.credits_posted,
        ),
    )
    .values({name: _A[name] + bindparam(f"add_{name}") for name in _TOTALS})
    .returning(*_ACCOUNT_COLUMNS)
)


@functools.cache
def _select_in(columns: tuple[Any, ...], key: Any, count: int) -> DriverStatement:
    """SELECT `columns` WHERE `key` IN (:key_0, ..., :key_<count-1>), compiled once per count."""
    return DriverStatement(select(*columns).where(key.in_([bindparam(f"key_{i}") for i in range(count)])))


def _rows_where_in(connection: Connection, columns: tuple[Any, ...], key: Any, wanted: Sequence[Any]) -> list[Any]:
    """The rows whose `key` is one of `wanted`, typed (`DriverStatement.rows`)."""
    return [row for sent in _send_rows_where_in(connection, columns, key, wanted) for row in sent.rows()]


def _send_rows_where_in(
    connection: Connection, columns: tuple[Any, ...], key: Any, wanted: Sequence[Any]
) -> list[Sent]:
    """`_rows_where_in` sent (`DriverStatement.send`: in a `pipelined()` block, read after it),
    at most KEYS_PER_QUERY_MAX keys a statement; none for none wanted. A chunk is padded to a
    power of two by repeating its last key, so that a handful of statement shapes serve every count."""
    sent: list[Sent] = []
    for start in range(0, len(wanted), KEYS_PER_QUERY_MAX):
        chunk = list(wanted[start : start + KEYS_PER_QUERY_MAX])
        chunk += chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
        values = {f"key_{i}": value for i, value in enumerate(chunk)}
        sent.append(_select_in(columns, key, len(chunk)).send(connection, values))
    return sent


class _Totals(Protocol):
    @property
    def debits_pending(self) -> int: ...
    @property
    def debits_posted(self) -> int: ...
    @property
    def credits_pending(self) -> int: ...
    @property
    def credits_posted(self) -> int: ...


@dataclass(frozen=True)
class Balance:
    """Totals of one account. For a credit-normal account (a company's money):
    `posted` is what it owns, `held` what holds reserve, `available` the rest."""

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def posted(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def held(self) -> int:
        return self.debits_pending

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending

    @classmethod
    def of(cls, account: _Totals) -> Balance:
        return cls(account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted)

    def minus(self, delta: Sequence[int]) -> Balance:
        return Balance(*(total - d for total, d in zip(self.totals, delta, strict=True)))

    @property
    def totals(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)


@dataclass(frozen=True)
class Account:
    """A ledger account as stored: its code, kind, overdraft protection and totals."""

    id: int
    code: str
    kind: str
    debits_must_not_exceed_credits: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    created_at: datetime

    @classmethod
    def of(cls, row: Sequence[Any]) -> Account:
        """From a row of `_ACCOUNT_COLUMNS`, in their order."""
        return cls(*row)


@dataclass(frozen=True)
class Transfer:
    """A transfer as stored (see hub.ledger.models.LedgerTransfer): never edited."""

    id: str
    kind: str
    code: str
    debit_account_id: int
    credit_account_id: int
    amount_grosze: int
    pending_id: str | None
    reference: str
    created_at: datetime

    @classmethod
    def of(cls, row: Sequence[Any]) -> Transfer:
        """From a row that begins with `_TRANSFER_COLUMNS`, in their order."""
        return cls(*row[: len(_TRANSFER_COLUMNS)])

    def same_content(self, other: Transfer) -> bool:
        """What idempotency compares: everything but the reference and the time."""
        return (
            self.kind,
            self.code,
            self.debit_account_id,
            self.credit_account_id,
            self.amount_grosze,
            self.pending_id,
        ) == (
            other.kind,
            other.code,
            other.debit_account_id,
            other.credit_account_id,
            other.amount_grosze,
            other.pending_id,
        )


@dataclass(frozen=True)
class NewTransfer:
    """A POSTED or PENDING transfer to create. `id` is its idempotency key."""

    id: str
    debit: str  # account code
    credit: str
    amount_grosze: int
    code: str
    reference: str = ""
    pending: bool = False


def _differences(stored: Balance, computed: Balance) -> str:
    """`credits_posted 1000.00 PLN, its transfers give 900.00 PLN (difference +100.00)` for each total that differs."""
    parts = []
    for name in _TOTALS:
        kept, derived = getattr(stored, name), getattr(computed, name)
        if kept != derived:
            sign = "+" if kept > derived else ""
            parts.append(
                f"{name} {format_pln(kept)} PLN, its transfers give {format_pln(derived)} PLN "
                f"(difference {sign}{format_pln(kept - derived)})"
            )
    return "; ".join(parts)


def _same_or_conflict(existing: Transfer, wanted: Transfer) -> Transfer:
    if not existing.same_content(wanted):
        raise IdempotencyConflict(f"transfer {existing.id} exists with other content")
    return existing


class Ledger:
    def __init__(self, session: Session, clock: Clock = utcnow) -> None:
        self.session = session
        self.clock = clock
        # code -> id of the accounts this ledger has read (an account's id never changes; none
        # is ever deleted): a capture's transfer onwards looks up only the accounts it has not seen.
        self._ids: dict[str, int] = {}
        self._protected: dict[int, bool] = {}  # id -> debits_must_not_exceed_credits, of the same
        self._expected: set[str] = set()  # codes the next read brings along (`expect`)
        self._opening: dict[str, str] = {}  # code -> kind: those of them to open if not found (`expect`)
        self._read_ahead: dict[str, Account] = {}  # accounts so brought, as read; dropped by any move made now

    @property
    def _connection(self) -> Connection:
        return self.session.connection()

    # -- accounts ---------------------------------------------------------

    def open_account(self, code: str, kind: str, *, no_overdraft: bool = False) -> Account:
        """Get or create; safe when two processes open the same account at once."""
        account = self._find(code)
        if account is None:
            connection = self._connection
            connection.execute(
                insert_if_absent(connection.dialect.name, _ACCOUNTS, "code"),
                {
                    "code": code,
                    "kind": kind,
                    "debits_must_not_exceed_credits": no_overdraft,
                    **dict.fromkeys(_TOTALS, 0),
                    "created_at": self.clock(),
                },
            )
            account = self.account(code)
        if account.kind != kind or account.debits_must_not_exceed_credits != no_overdraft:
            raise LedgerInvariantError(f"account {code} exists as {account.kind}, asked for {kind}")
        return account

    def account(self, code: str) -> Account:
        account = self._find(code)
        if account is None:
            raise NotFound(f"no ledger account {code}")
        return account

    def balance(self, code: str) -> Balance:
        return Balance.of(self.account(code))

    def expect(self, *codes: str, opening: str | None = None) -> None:
        """Accounts this ledger will be asked for: read along with its next read (in the same
        statement, or on PostgreSQL in the same round trip), so that `open_account` or a
        transfer then finds them without a lookup of their own. A RedeemCoupon's office account
        comes with the hold's read; a cash desk payment's two accounts, and IssueCoupons' two,
        with one read. `opening`: the accounts' kind, and they are opened as `open_account`
        opens one (unprotected) if that read does not find them (an office's at its first
        redeem), or refused if they exist as another kind."""
        unseen = [code for code in codes if code not in self._ids]
        self._expected.update(unseen)
        if opening is not None:
            self._opening.update(dict.fromkeys(unseen, opening))

    def _find(self, code: str) -> Account | None:
        """The account as stored, its moves held for the commit made first (`_HeldMoves`); one
        read along with an earlier one (`expect`) serves if nothing has moved it since."""
        held = self._held()
        ahead = self._read_ahead.pop(code, None)
        if ahead is not None and (held is None or ahead.id not in held.deltas):
            return ahead
        expected = self._expecting(code)
        rows = self._learned(_rows_where_in(self._connection, _ACCOUNT_COLUMNS, _A.code, [code, *expected]), expected)
        row = next((r for r in rows if r.code == code), None)
        if row is not None and held is not None and row.id in held.deltas:
            self._move_held()
            rows = _rows_where_in(self._connection, _ACCOUNT_COLUMNS, _A.code, [code])
            row = rows[0] if rows else None
        return None if row is None else Account.of(row)

    def _expecting(self, *reading: str) -> list[str]:
        """The codes `expect` asked for and not yet read, besides those being read: taken."""
        codes = sorted(self._expected.difference(reading, self._ids))
        self._expected.clear()
        return codes

    def _learned(self, rows: list[Any], expected: Sequence[str] = ()) -> list[Any]:
        """Accounts' rows just read: their ids and protection remembered; those `expect`
        asked for kept as read, until asked for (`_find`) or moved, and those it asked to open
        opened if the read did not find them."""
        for row in rows:
            self._ids[row.code] = row.id
            self._protected[row.id] = row.debits_must_not_exceed_credits
            if row.code in expected:
                self._read_ahead[row.code] = Account.of(row)
        for code in expected:
            kind = self._opening.pop(code, None)
            if kind is not None:
                self.open_account(code, kind)
        return rows

    def _moved_now(self) -> None:
        """Totals changed in the database: an account read ahead may no longer be as read."""
        self._read_ahead.clear()

    # -- transfers --------------------------------------------------------

    def transfer(
        self, id: str, debit: str, credit: str, amount_grosze: int, code: str, reference: str = ""
    ) -> Transfer:
        return self.apply([NewTransfer(id, debit, credit, amount_grosze, code, reference)])[0]

    def hold(self, id: str, debit: str, credit: str, amount_grosze: int, code: str, reference: str = "") -> Transfer:
        return self.apply([NewTransfer(id, debit, credit, amount_grosze, code, reference, pending=True)])[0]

    def apply(self, transfers: Sequence[NewTransfer]) -> list[Transfer]:
        """Create POSTED and PENDING transfers, all or none. A transfer whose id
        exists already with the same content is returned as it is (idempotency);
        with other content it is an IdempotencyConflict."""
        if not transfers:
            return []
        return self._booked(self._wanted(transfers))

    def apply_fresh(self, transfers: Sequence[NewTransfer]) -> list[Transfer]:
        """`apply` for transfers whose ids nobody can have stored: made in this transaction from
        ids it drew (a statement import's entries', reserved from their sequence). With no
        stored transfer to compare, the insert has nothing to answer: on PostgreSQL it is sent,
        and the caller goes on while the server inserts (`BulkInsert.send`, inside
        `answers_later`); a stored id after all fails the transaction (IntegrityError), no
        later than its commit."""
        if not transfers:
            return []
        wanted = self._wanted(transfers)
        _FRESH_TRANSFERS.send(self._connection, [w.__dict__ for w in wanted])
        return self._book(wanted, {w.id for w in wanted})

    def _wanted(self, transfers: Sequence[NewTransfer]) -> list[Transfer]:
        """The transfers as they are to be stored, their accounts' ids looked up (those not yet
        seen read now, with any `expect` asked for), refused if malformed."""
        codes = sorted({t.debit for t in transfers} | {t.credit for t in transfers})
        unseen = [c for c in codes if c not in self._ids]
        if unseen:
            expected = self._expecting(*unseen)
            self._learned(_rows_where_in(self._connection, _ACCOUNT_COLUMNS, _A.code, unseen + expected), expected)
        ids = self._ids
        missing = [c for c in codes if c not in ids]
        if missing:
            raise NotFound(f"no ledger account {missing[0]}")
        now = self.clock()
        wanted = [
            Transfer(
                t.id,
                PENDING if t.pending else POSTED,
                t.code,
                ids[t.debit],
                ids[t.credit],
                t.amount_grosze,
                None,
                t.reference,
                now,
            )
            for t in transfers
        ]
        self._refuse_malformed(wanted)
        return wanted

    def _booked(self, wanted: Sequence[Transfer], pending: Transfer | None = None) -> list[Transfer]:
        """Inserts `wanted` in one statement, all or none, and moves their accounts' totals. A
        transfer whose id is stored already with the same content is given back as stored and
        moves nothing (idempotency); with other content, IdempotencyConflict. `pending`: the
        pending transfer that the first of `wanted` resolves (POST or VOID), which releases it
        and posts what it posts; refused if another resolution of it got there first."""
        return self._book(wanted, self._insert(wanted), pending)

    def _book(self, wanted: Sequence[Transfer], made: set[str], pending: Transfer | None = None) -> list[Transfer]:
        """`_booked` once `wanted` is inserted, `made` the ids the insert made."""
        stored = self._stored([w.id for w in wanted if w.id not in made]) if len(made) < len(wanted) else {}
        result: list[Transfer] = []
        deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        debits_added: dict[int, int] = defaultdict(int)
        for w in wanted:
            if w.id not in made:
                if w.pending_id is not None and w.id not in stored:  # a concurrent transaction resolved it
                    raise LedgerInvariantError(f"pending transfer {w.pending_id} is already resolved")
                result.append(_same_or_conflict(self._one(stored, w.id), w))
            elif w.pending_id is not None:
                assert pending is not None and w.pending_id == pending.id
                held, posted = pending.amount_grosze, w.amount_grosze if w.kind == POST else 0
                _add(deltas[pending.debit_account_id], (-held, posted, 0, 0))
                _add(deltas[pending.credit_account_id], (0, 0, -held, posted))
                debits_added[pending.debit_account_id] += posted - held  # never more than 0: nothing can refuse it
                result.append(w)
            else:
                offset = 0 if w.kind == PENDING else 1
                deltas[w.debit_account_id][offset] += w.amount_grosze
                deltas[w.credit_account_id][2 + offset] += w.amount_grosze
                debits_added[w.debit_account_id] += w.amount_grosze
                result.append(w)
        if self._move_at_commit(deltas, debits_added):
            return result
        moved: list[int] = []
        try:
            self._move(deltas, debits_added, moved)
        except InsufficientFunds:
            self._take_back(made, {a: deltas[a] for a in moved})
            raise
        return result

    def post(
        self,
        id: str,
        pending_id: str,
        amount_grosze: int | None = None,
        *,
        code: str,
        reference: str = "",
        onward: Sequence[NewTransfer] = (),
    ) -> Transfer:
        """Capture a hold: post `amount_grosze` of it (default all); the rest is released.
        `onward`: transfers made with the capture, all or none, in the same insert (a redeem's
        payment from coupon clearing to the office: one round trip where the two took one
        each), as `apply` makes them; their accounts come with the hold's read where it knows
        them (the hold's own, those `expect` asked for)."""
        return self._resolve(id, pending_id, POST, amount_grosze, code, reference, onward)

    def void(self, id: str, pending_id: str, *, code: str, reference: str = "") -> Transfer:
        """Release a hold in full."""
        return self._resolve(id, pending_id, VOID, None, code, reference)

    def resolution(self, pending_id: str) -> Transfer | None:
        """The POST or VOID that resolved a pending transfer, if any."""
        row = self._connection.execute(select(*_TRANSFER_COLUMNS).where(_T.pending_id == pending_id)).first()
        return None if row is None else Transfer.of(row)

    def _resolve(
        self,
        id: str,
        pending_id: str,
        kind: str,
        amount: int | None,
        code: str,
        reference: str,
        onward: Sequence[NewTransfer] = (),
    ) -> Transfer:
        """One read finds the pending transfer, a transfer already stored under `id` and
        any resolution of the pending one; then the insert (with `onward`'s) and the accounts'
        updates."""
        connection, expected = self._connection, self._expecting()
        with pipelined(connection) if expected else nullcontext():  # on PostgreSQL in one round trip
            resolving = _RESOLVING.send(connection, {"pending_id": pending_id, "id": id})
            ahead = _send_rows_where_in(connection, _ACCOUNT_COLUMNS, _A.code, expected)
        found = resolving.rows()
        self._learned([row for sent in ahead for row in sent.rows()], expected)
        for r in found:
            self._ids.update(((r.debit_code, r.debit_account_id), (r.credit_code, r.credit_account_id)))
            self._protected.update(((r.debit_account_id, r.debit_protected), (r.credit_account_id, r.credit_protected)))
        rows = [Transfer.of(r) for r in found]
        pending = next((r for r in rows if r.id == pending_id), None)
        if pending is None or pending.kind != PENDING:
            raise LedgerInvariantError(f"transfer {pending_id} is not a pending transfer")
        amount = pending.amount_grosze if amount is None else amount
        wanted = Transfer(
            id,
            kind,
            code,
            pending.debit_account_id,
            pending.credit_account_id,
            amount if kind == POST else pending.amount_grosze,
            pending_id,
            reference,
            self.clock(),
        )
        existing = next((r for r in rows if r.id == id), None)
        if existing is not None:  # made before (a retry): so were the transfers onwards, given back as stored
            resolution = _same_or_conflict(existing, wanted)
            self.apply(onward)
            return resolution
        if any(r.pending_id == pending_id for r in rows):
            raise LedgerInvariantError(f"pending transfer {pending_id} is already resolved")
        if kind == POST and not 0 < amount <= pending.amount_grosze:
            raise LedgerInvariantError(f"cannot post {amount} of a {pending.amount_grosze} hold")
        return self._booked([wanted, *(self._wanted(onward) if onward else ())], pending)[0]

    # -- the statements ---------------------------------------------------

    @staticmethod
    def _refuse_malformed(wanted: Sequence[Transfer]) -> None:
        for w in wanted:
            if w.amount_grosze <= 0:
                raise LedgerInvariantError(f"transfer {w.id}: amount must be positive, got {w.amount_grosze}")
            if w.debit_account_id == w.credit_account_id:
                raise LedgerInvariantError(f"transfer {w.id}: debit and credit are the same account")

    def _insert(self, wanted: Sequence[Transfer]) -> set[str]:
        """Insert the transfers in one statement (a few: one multi-row INSERT; more:
        BulkInsert); the ids inserted. An id already stored, or inserted by a transaction not
        yet committed (PostgreSQL waits for it), is left out: the caller compares it with what
        is stored."""
        connection = self._connection
        rows = [w.__dict__ for w in wanted]
        if len(rows) > FEW_TRANSFERS_MAX:
            return {id for (id,) in _NEW_TRANSFERS.execute(connection, rows)}
        if len(rows) > 1:
            few = _new_few_transfers(connection.dialect.name, len(rows))
            return {id for (id,) in few.execute(connection, _few_values(rows))}
        return {id for (id,) in _NEW_TRANSFER[connection.dialect.name].execute(connection, rows[0])}

    def _stored(self, ids: list[str]) -> dict[str, Transfer]:
        return {row.id: Transfer.of(row) for row in _rows_where_in(self._connection, _TRANSFER_COLUMNS, _T.id, ids)}

    @staticmethod
    def _one(stored: dict[str, Transfer], id: str) -> Transfer:
        if id not in stored:  # inserted by nobody, yet refused: another unique key
            raise LedgerInvariantError(f"transfer {id} was refused by the database")
        return stored[id]

    def _take_back(self, made: set[str], moved: dict[int, list[int]]) -> None:
        """A refused apply() leaves nothing, so that the caller may book the same transfer
        id elsewhere in the same transaction (a reversal the company can no longer cover goes
        to suspense): the transfers it inserted go, and the accounts moved before the refused
        one move back. Only on this failure path; the usual path pays for no savepoint."""
        connection = self._connection
        self._moved_now()
        for account_id, delta in moved.items():
            _ADD_TO_TOTALS.execute(connection, _totals_params(account_id, [-d for d in delta]))
        if made:
            connection.execute(_DELETE_TRANSFERS, {"ids": sorted(made)})

    def _move(self, deltas: dict[int, list[int]], debits_added: dict[int, int], moved: list[int] | None = None) -> None:
        """`_move_totals` now, after the moves held for the commit (which come first in time)."""
        self._move_held()
        self._moved_now()
        _move_totals(self._connection, deltas, debits_added, moved)

    # -- moves held for the commit ------------------------------------------

    def _move_at_commit(self, deltas: dict[int, list[int]], debits_added: dict[int, int]) -> bool:
        """Holds the moves for the transaction's commit (hub.db.database.BeforeCommit) when none
        of them can be refused: no protected account's debits rise (a capture's and a release's
        never do; nor an unprotected account's payment onwards). False when they must run now:
        outside a transaction of `Database.transaction()`, or when one might be refused."""
        before_commit = self.session.info.get(BEFORE_COMMIT)
        if before_commit is None or any(
            debits_added.get(account_id, 0) > 0 and self._protected.get(account_id, True) for account_id in deltas
        ):
            return False
        held = before_commit.state.get(_HeldMoves.KEY)
        if held is None:
            held = before_commit.state[_HeldMoves.KEY] = _HeldMoves()
            before_commit.add(held.send, hot=True)  # coupon clearing: every capture moves it
        held.add(deltas)
        return True

    def _held(self) -> _HeldMoves | None:
        """The moves waiting for this transaction's commit, if any were held."""
        before_commit = self.session.info.get(BEFORE_COMMIT)
        return before_commit.state.get(_HeldMoves.KEY) if before_commit is not None else None

    def _move_held(self) -> None:
        """The moves held for the commit, made now: before any read of the totals they change
        and before any move that must run now, so that the transaction sees its own work."""
        if (held := self._held()) is not None:
            held.move(self._connection)
            self._moved_now()

    # -- invariants -------------------------------------------------------

    def verify(self) -> None:
        """Raises LedgerInvariantError naming every problem `problems()` finds."""
        problems = self.problems()
        if problems:
            raise LedgerInvariantError("; ".join(problems))

    def problems(self) -> list[str]:
        """Recompute every account's totals from its transfers and compare; check
        that debits equal credits over the whole ledger, that no protected account
        is overdrawn, and that no pending transfer resolved twice or over its amount.
        One line per problem; an account's line names each total that differs and by how much."""
        problems: list[str] = []
        derived = self._derived_totals()
        totals = [0, 0, 0, 0]
        for account in self._accounts(_A.id):
            stored = Balance.of(account)
            computed = derived.get(account.id, Balance(0, 0, 0, 0))
            if stored != computed:
                problems.append(f"account {account.code}: {_differences(stored, computed)}")
            if account.debits_must_not_exceed_credits and stored.available < 0:
                problems.append(f"account {account.code} is overdrawn: available {format_pln(stored.available)} PLN")
            for i, v in enumerate(
                (stored.debits_pending, stored.debits_posted, stored.credits_pending, stored.credits_posted)
            ):
                totals[i] += v
        if totals[0] != totals[2] or totals[1] != totals[3]:
            problems.append(
                "debits and credits differ over the ledger: debits less credits are "
                f"{format_pln(totals[0] - totals[2])} PLN pending, {format_pln(totals[1] - totals[3])} PLN posted"
            )
        pending = aliased(LedgerTransfer)
        over = (
            self.session.execute(
                select(LedgerTransfer.id)
                .join(pending, pending.id == LedgerTransfer.pending_id)
                .where((LedgerTransfer.amount_grosze > pending.amount_grosze) | (pending.kind != PENDING))
            )
            .scalars()
            .all()
        )
        problems.extend(f"transfer {t} resolves more than its pending transfer" for t in over)
        return problems

    def trial_balance(self) -> list[tuple[str, str, Balance]]:
        """Every account with its totals: (code, kind, balance)."""
        return [(a.code, a.kind, Balance.of(a)) for a in self._accounts(_A.code)]

    def _accounts(self, order: Any) -> list[Account]:
        """Every account as stored now (Core: never a stale ORM object of the session)."""
        self._move_held()
        query = select(*_ACCOUNT_COLUMNS).order_by(order)
        return [Account.of(row) for row in self._connection.execute(query)]

    def _derived_totals(self) -> dict[int, Balance]:
        t = LedgerTransfer
        resolved = select(t.pending_id).where(t.pending_id.is_not(None)).scalar_subquery()
        open_pending = (t.kind == PENDING) & t.id.not_in(resolved)
        posted = t.kind.in_((POSTED, POST))
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for side, offset in ((t.debit_account_id, 0), (t.credit_account_id, 2)):
            query = select(
                side,
                func.coalesce(func.sum(case((open_pending, t.amount_grosze), else_=0)), 0),
                func.coalesce(func.sum(case((posted, t.amount_grosze), else_=0)), 0),
            ).group_by(side)
            for account_id, pending_sum, posted_sum in self.session.execute(query):
                sums[account_id][offset] += int(pending_sum)
                sums[account_id][offset + 1] += int(posted_sum)
        return {k: Balance(*v) for k, v in sums.items()}


def _move_totals(
    connection: Connection, deltas: dict[int, list[int]], debits_added: dict[int, int], moved: list[int] | None = None
) -> None:
    """One conditional UPDATE per account, in id order; each returns the new totals,
    which are checked again. A protected account that would be overdrawn is read
    under its lock: InsufficientFunds with what it has available."""
    for account_id in sorted(deltas):
        delta = deltas[account_id]
        params = _move_params(account_id, delta, debits_added)
        rows = _MOVE_TOTALS.rows(connection, params)
        if not rows:
            (locked,) = map(Account.of, _LOCK_ACCOUNT.rows(connection, {"account_id": account_id}))
            needed = debits_added.get(account_id, 0)
            if needed > Balance.of(locked).available:
                raise InsufficientFunds(Balance.of(locked).available, needed)
            rows = _MOVE_TOTALS.rows(connection, params)
        (row,) = rows
        if moved is not None:
            moved.append(account_id)
        _check_after(Account.of(row), delta)


def _send_held_totals(connection: Connection, deltas: dict[int, list[int]]) -> None:
    """`_move_totals` for moves held for the commit, none of which can be refused
    (`Ledger._move_at_commit`): an UPDATE an account in id order, sent together (on PostgreSQL
    in one round trip, with the COMMIT when nothing else waits for a check: `BeforeCommit`, so
    the first account's row is not locked through the others' round trips, nor the commit's).
    No check of theirs reads them afterwards: the server's constraints are the check, and an
    error among them undoes the whole transaction. Each account they move was read in the
    transaction and is named by a transfer it inserted (a foreign key: the row is there, and no
    account is ever deleted), so each UPDATE finds its row; what they leave is held by
    `ledger_accounts`' CHECKs: no total below zero (`totals_not_negative`), no protected
    account overdrawn (`no_overdraft`), which none of them can make (none raises a protected
    account's debits)."""
    for account_id in sorted(deltas):
        _ADD_TO_TOTALS.send(connection, _totals_params(account_id, deltas[account_id]))


def _add(totals: list[int], delta: Sequence[int]) -> None:
    """Four totals moved by `delta`, in place."""
    for i, d in enumerate(delta):
        totals[i] += d


def _totals_params(account_id: int, delta: Sequence[int]) -> dict[str, int]:
    """An account's id and the deltas of its four totals, as the UPDATEs of totals take them."""
    return {"account_id": account_id, **{f"add_{name}": d for name, d in zip(_TOTALS, delta, strict=True)}}


def _move_params(account_id: int, delta: Sequence[int], debits_added: dict[int, int]) -> dict[str, int]:
    return {**_totals_params(account_id, delta), "debits_added": debits_added.get(account_id, 0)}


class _HeldMoves:
    """Account moves that cannot be refused, held for the transaction's commit (`BeforeCommit`),
    each account's deltas summed: moved by one UPDATE an account at the end, so that the rows
    every capture updates (coupon clearing, above all) stay locked from then to the commit
    only, not through the rest of the work, the answer's building and its signature."""

    KEY = "ledger.held_moves"  # in BeforeCommit.state

    def __init__(self) -> None:
        self.deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def add(self, deltas: dict[int, list[int]]) -> None:
        for account_id, delta in deltas.items():
            _add(self.deltas[account_id], delta)

    def send(self, connection: Connection) -> None:
        """The moves held so far, sent (a `BeforeCommit` hook with no check: `_send_held_totals`)."""
        deltas = dict(self.deltas)
        self.deltas.clear()
        _send_held_totals(connection, deltas)

    def move(self, connection: Connection) -> None:
        """The moves held so far, made now (a read of the totals they change comes next)."""
        sent_then_checked(connection, [self.send])


def _check_after(account: Account, delta: Sequence[int]) -> None:
    """The totals an UPDATE returned: none below zero, a protected account not overdrawn."""
    after = Balance.of(account)
    if min(after.totals) < 0:
        raise LedgerInvariantError(
            f"account {account.code}: a total went below zero: {after} (was {after.minus(delta)})"
        )
    if account.debits_must_not_exceed_credits and after.available < 0:
        raise LedgerInvariantError(f"account {account.code} overdrawn: {after} (was {after.minus(delta)})")
