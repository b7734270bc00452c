"""Importing camt.053 statements of the escrow account: top-ups, suspense, reversals.

A document may hold several statements (`Stmt`: one a day, or one per account); each statement
of the escrow account is a statement of its own (its id, sequence number, idempotency), those
of other accounts are skipped and listed as such, and a document with none of the escrow
account is refused. An import is all or nothing: one pass over the document (constant memory,
the injected StatementReader) in one transaction, which any refusal rolls back whole:

- check: refuse another currency, any malformed entry, and any statement that does not add
  up: its opening booked balance (OPBD, or PRCD) + booked credits - booked debits must equal
  its closing booked balance (CLBD), so a digit changed in transit refuses the file instead of
  booking the wrong amount. Validate against the XSD, once the pass is done, when `[bank]
  statement_xsd_dir` is set.
- book each new booked entry as it is read:
  - a credit paid to a company's virtual account, or naming a registered company's NIP in
    its remittance (Ustrd text, or a Strd creditor reference: the company's RF reference
    or a NIP): TOPUP, escrow -> company;
  - any other credit: SUSPENSE, escrow -> suspense, until the operator `assign`s it;
  - a reversal (RvslInd, a debit) of an earlier credit, found by its reference: undone
    where the credit went (company or suspense) - and if the company no longer has the
    money available, against suspense, flagged REVIEW for the operator: a company account
    is never overdrawn;
  - the hub's own transfers (other debits, reversed debits): stored UNMATCHED, not booked;
    settlement reconciles them by EndToEndId through `reconcilers`, in the same transaction.

Idempotent by the statement's identity (account, Stmt/Id, ElctrncSeqNb) and each entry's
key (AcctSvcrRef, else a hash of its fields; the n-th identical entry of a statement gets
`#n`): a statement imported again, or an entry seen in an overlapping statement, books
nothing twice. Imports are serialised by a lock on the escrow ledger account.

Continuity is reported, never refused: a statement whose opening balance is not the closing
balance of the escrow account's previous statement, or whose ElctrncSeqNb skips numbers, is
imported, and the gap is named in the import's answer, in `statements()` (`hub bank
statements`) and in /metrics, so that the operator asks the bank for the missing statement.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.access import Actor
from hub.audit.models import record_event
from hub.bank.models import (
    ASSIGNED,
    REVERSAL,
    REVERSED,
    REVIEW,
    SUSPENSE,
    TOPUP,
    UNMATCHED,
    UNMATCHED_STATUSES,
    BankEntry,
    BankStatement,
)
from hub.bank.reader import CREDIT, DEBIT, Balance, StatementEntry, StatementHeader, StatementReader, Transaction
from hub.clock import Clock, utcnow
from hub.companies.models import Company
from hub.companies.service import find_company, valid_nip
from hub.config import BankSettings
from hub.db.database import BulkInsert, Database, answers_later
from hub.errors import InsufficientFunds, InvalidRequest, NotAuthorized, NotFound, StatementError
from hub.ids import format_nrb, nip_valid, normalize_account, rf_reference_body
from hub.ledger import Ledger, NewTransfer
from hub.ledger.chart import ASSET, CONTROL, ESCROW, company_account
from hub.ledger.chart import SUSPENSE as SUSPENSE_ACCOUNT
from hub.ledger.codes import TransferCode
from hub.ledger.models import LedgerAccount
from hub.money import format_pln

_ENTRIES = cast(Table, BankEntry.__table__)
# Every statement below finds its rows by an index whatever the planner believes: within one
# import the table grows by up to a hundred thousand rows that PostgreSQL's statistics do not
# know of yet, and a plan chosen on them (a scan per chunk of `id IN (...)` or of
# `entry_key IN (...)`) made an import's time grow with the square of its entries.
# The columns an entry is inserted with (_Booking._row): all but assign_transfer_id, which
# `assign` sets. An entry is inserted once, whole: its id reserved first (BulkInsert.reserve_ids),
# so that its booked transfer, "bank-entry:<its id>" (_transfer_id), is named in the same row.
_INSERTED = (
    "id statement_id account entry_key direction reversal amount_grosze booking_date value_date "
    "account_servicer_ref entry_ref end_to_end_id creditor_account debtor_name debtor_account remittance line "
    "status company_id ledger_transfer_id reverses_id created_at"
).split()
# New entries, one statement a chunk, each known to be new (_Booking._new): one stored meanwhile
# fails the import (an IntegrityError, which imports again) instead of being left out.
_NEW_ENTRIES = BulkInsert(_ENTRIES, _INSERTED, skip_stored=False)
# Which of a chunk's keys are stored (_Booking._new). PostgreSQL: a scalar subquery a key, each
# an equality on the unique index, which the planner cannot turn into a scan of the table as it
# did `entry_key IN (...)` (87 s instead of 0.3 s for 100,000 entries); SQLite uses the index for IN.
_KEYS = (
    func.unnest(bindparam("keys", type_=ARRAY(_ENTRIES.c.entry_key.type))).table_valued("key").render_derived("keys")
)
_STORED_ID = (
    select(_ENTRIES.c.id)
    .where(_ENTRIES.c.account == bindparam("account"), _ENTRIES.c.entry_key == _KEYS.c.key)
    .scalar_subquery()
)
_LOOKED_UP = select(_KEYS.c.key, _STORED_ID.label("stored_id")).subquery()
_STORED_KEYS = {
    "postgresql": select(_LOOKED_UP.c.key).where(_LOOKED_UP.c.stored_id.is_not(None)),
    "sqlite": select(_ENTRIES.c.entry_key).where(
        _ENTRIES.c.account == bindparam("account"), _ENTRIES.c.entry_key.in_(bindparam("keys", expanding=True))
    ),
}
# The rows this import inserted for a statement are those of its id from the first one on:
# imports take turns (_lock_escrow), and ids only grow.
_UNMATCHED_SINCE = (
    select(func.count())
    .select_from(_ENTRIES)
    .where(
        _ENTRIES.c.statement_id == bindparam("statement_id"),
        _ENTRIES.c.id >= bindparam("first_id"),
        _ENTRIES.c.status.in_(UNMATCHED_STATUSES),
    )
)

# Permissions of the hub's side (no company or office acts on the escrow account).
STATEMENTS_IMPORT = "statements:import"
SUSPENSE_READ = "suspense:read"
SUSPENSE_ASSIGN = "suspense:assign"

DOCUMENT_BYTES_MAX = 64 * 1024 * 1024  # a statement handed over in memory (SubmitStatement)
READ_CHUNK_BYTES = 64 * 1024
BOOKING_CHUNK = 1000  # parts booked together: one company lookup, one insert, one ledger apply
# A weekly file of a few dozen accounts holds a few hundred statements; each statement of the
# document is remembered until the import ends.
STATEMENTS_PER_DOCUMENT_MAX = 1000
NIPS_REMEMBERED_MAX = 4096  # valid or not, by their digits

# NIP as people write it: 10 digits, optionally grouped by dashes or spaces (526-025-02-74).
_NIP_TEXT = re.compile(r"(?<![0-9])(?:[0-9][- ]?){9}[0-9](?![0-9])")
_RF_TEXT = re.compile(r"(?<![A-Za-z0-9])RF[0-9]{2}[A-Za-z0-9]{1,21}(?![A-Za-z0-9])")

# The few NIPs a document's remittances name, each checked once (hub.ids.nip_valid is pure).
_nip_valid = functools.lru_cache(maxsize=NIPS_REMEMBERED_MAX)(nip_valid)

Progress = Callable[[int], None]
# Settlement's matcher for the hub's own transfers: (session, BankStatement.id) -> None; runs
# inside the import's transaction after booking, and may move UNMATCHED entries on.
Reconciler = Callable[[Session, int], None]


@dataclass(frozen=True)
class StatementResult:
    """What the import did with one statement of the escrow account."""

    statement_id: int  # the hub's id
    bank_statement_id: str  # Stmt/Id
    sequence: str  # ElctrncSeqNb, "" when absent
    opening_grosze: int
    closing_grosze: int
    imported: int  # new entries, booked
    duplicates: int  # seen before
    unmatched: int  # new entries the hub could not assign: suspense, review, unreconciled
    ignored: int  # entries the bank did not book (PDNG, INFO, FUTR) or of 0.00: nothing to book
    gaps: tuple[str, ...]  # continuity: a missing sequence number, an opening that is not the previous closing


@dataclass(frozen=True)
class SkippedStatement:
    """A statement of another account in the same document: read and checked, not imported."""

    bank_statement_id: str
    account: str
    line: int


class _Summed:
    """A count of a whole import: the sum of the same count over its statements."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, result: ImportResult, owner: type | None = None) -> int:
        return sum(getattr(statement, self.name) for statement in result.statements)


@dataclass(frozen=True)
class ImportResult:
    account: str
    statements: tuple[StatementResult, ...]  # the escrow account's, in file order (at least one)
    skipped: tuple[SkippedStatement, ...]

    @property
    def statement_id(self) -> int:
        """The hub's id of the first statement (SubmitStatementResponse/StatementId lists them all)."""
        return self.statements[0].statement_id

    @property
    def bank_statement_id(self) -> str:
        return self.statements[0].bank_statement_id

    imported = _Summed()
    duplicates = _Summed()
    unmatched = _Summed()
    ignored = _Summed()

    @property
    def gaps(self) -> tuple[str, ...]:
        return tuple(f"statement {s.bank_statement_id}: {gap}" for s in self.statements for gap in s.gaps)


@dataclass(frozen=True)
class StatementView:
    """An imported statement of the escrow account, in the order of the bank's sequence."""

    statement_id: int  # the hub's id
    bank_statement_id: str
    sequence: str
    created_at: datetime
    opening_grosze: int | None  # None only for statements imported before balances were checked
    closing_grosze: int | None
    entries: int  # BankEntry rows
    imported_at: datetime
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class EntryView:
    entry_id: int
    status: str
    direction: str
    amount_grosze: int
    booking_date: date | None
    debtor_name: str | None
    debtor_account: str | None
    creditor_account: str | None
    remittance: str
    end_to_end_id: str | None
    company_nip: str | None
    bank_statement_id: str  # Stmt/Id


class _Part(NamedTuple):
    """What one BankEntry row is made of: an entry, or one transaction of a split entry.
    A NamedTuple, as the reader's records are: one is made for every entry of a document."""

    entry: StatementEntry
    key: str
    amount_grosze: int
    transactions: tuple[Transaction, ...]

    def first(self, field: str) -> str | None:
        if len(self.transactions) == 1:  # nearly every entry: no generator to build
            return getattr(self.transactions[0], field) or None
        return next((getattr(t, field) for t in self.transactions if getattr(t, field)), None)

    @property
    def remittance(self) -> str:
        """The Ustrd texts, then the Strd creditor references: what matching reads, and what is kept."""
        texts = [t.remittance for t in self.transactions if t.remittance]
        texts += [ref for t in self.transactions for ref in t.references]
        return " ".join(texts)

    @property
    def references(self) -> set[str]:
        """What a reversal names the credit it reverses by: the bank's reference or the EndToEndId."""
        refs = {t.account_servicer_ref for t in self.transactions} | {t.end_to_end_id for t in self.transactions}
        return {r for r in refs if r}


class _Plan:
    """What the pass has read so far: every statement's header, which are the escrow
    account's, and the current statement's totals."""

    def __init__(self) -> None:
        self.headers: list[StatementHeader] = []
        self.escrow: list[bool] = []
        self.current: _Totals | None = None

    def add(self, header: StatementHeader, *, escrow: bool) -> None:
        self.headers.append(header)
        self.escrow.append(escrow)
        self.current = _Totals(header)

    @property
    def totals(self) -> _Totals:
        assert self.current is not None  # the reader yields a statement's header before its entries
        return self.current

    @property
    def version(self) -> str:
        return self.headers[0].version


class _Totals:
    """One statement's booked credits and debits, against its balances."""

    def __init__(self, header: StatementHeader) -> None:
        self.header = header
        self.credits = 0
        self.debits = 0

    def add(self, entry: StatementEntry) -> None:
        if not entry.booked:
            return
        if entry.direction == CREDIT:
            self.credits += entry.amount_grosze
        else:
            self.debits += entry.amount_grosze

    def check(self) -> None:
        """Opening (OPBD, or PRCD) + booked credits - booked debits == closing (CLBD), or the file is refused."""
        header = self.header
        opening, closing = header.opening, header.closing
        if opening is None or closing is None:
            missing = "opening booked balance (OPBD or PRCD)" if opening is None else "closing booked balance (CLBD)"
            raise StatementError(
                f"statement {header.statement_id} has no {missing}; "
                "the hub checks every statement's balances; nothing was imported",
                element="Bal",
                line=header.line,
            )
        if opening.amount_grosze + self.credits - self.debits != closing.amount_grosze:
            raise StatementError(
                f"statement {header.statement_id} does not add up: opening balance {_signed(opening)} + booked credits "
                f"{format_pln(self.credits)} - booked debits {format_pln(self.debits)} = "
                f"{format_pln(opening.amount_grosze + self.credits - self.debits)}, "
                f"but the closing balance is {_signed(closing)}; "
                "nothing was imported",
                element="Bal",
                line=closing.line,
            )


class StatementService:
    passes = 1  # an import reads the document once through `progress` (the XSD check, unreported, once more)

    def __init__(
        self,
        db: Database,
        bank: BankSettings,
        clock: Clock = utcnow,
        reconcilers: Sequence[Reconciler] = (),
        reader: StatementReader | None = None,
    ) -> None:
        """`reader` reads camt.053 documents: hub/app.py gives hub.adapters.camt.CamtReader();
        without one, an import refuses to start (the domain knows no XML)."""
        self.db = db
        self.reader = reader
        self.escrow_account = normalize_account(bank.escrow_account)
        self.currency = bank.currency
        self.xsd_dir = bank.statement_xsd_dir
        self.clock = clock
        self.reconcilers = tuple(reconcilers)

    # -- import ------------------------------------------------------------

    def import_file(self, path: Path, *, actor: Actor, progress: Progress | None = None) -> ImportResult:
        return self._import(lambda: open(path, "rb"), actor, progress)

    def import_document(self, document: bytes, *, actor: Actor) -> ImportResult:
        if len(document) > DOCUMENT_BYTES_MAX:
            raise InvalidRequest(f"the statement is {len(document)} bytes; the limit is {DOCUMENT_BYTES_MAX} bytes")
        return self._import(lambda: io.BytesIO(document), actor, None)

    def _import(self, open_stream: Callable[[], BinaryIO], actor: Actor, progress: Progress | None) -> ImportResult:
        _require_hub_side(actor, STATEMENTS_IMPORT)
        if self.reader is None:
            raise RuntimeError(
                "StatementService has no StatementReader: hub/app.py passes reader=hub.adapters.camt.CamtReader()"
            )
        try:
            return self._book(open_stream, actor, progress)
        except IntegrityError:
            # Another process imported the same statement and committed first (the escrow
            # lock makes this rare): everything rolled back; look again.
            return self._book(open_stream, actor, None)

    def _book(self, open_stream: Callable[[], BinaryIO], actor: Actor, progress: Progress | None) -> ImportResult:
        """The one pass, in one transaction: each statement checked and booked as it is read.
        A check that fails raises, and the transaction takes back everything booked before it."""
        assert self.reader is not None  # _import refuses to start without one
        with (
            open_stream() as raw,
            self.db.transaction() as session,
            self._lookups(session) as lookups,
            answers_later(session.connection()),
            ExitStack() as stack,  # a reader stopped early (a refusal) stops at once, not when collected
        ):
            stream = _Tap(raw, progress)
            ledger = Ledger(session, self.clock)
            ledger.open_account(ESCROW, ASSET)
            ledger.open_account(SUSPENSE_ACCOUNT, CONTROL)
            _lock_escrow(session)
            plan = _Plan()
            bookings: list[tuple[StatementHeader, _Booking]] = []
            skipped: list[SkippedStatement] = []
            booking: _Booking | None = None
            keys: set[str] = set()  # of the parts booked or waiting, in every statement of the document
            # a large document is parsed in a process of its own meanwhile (hub.adapters.camt_process)
            items = stack.enter_context(closing(self.reader.read(stream.binary)))
            for item in items:
                if isinstance(item, StatementHeader):
                    _close(plan, booking)
                    self._open(plan, item)
                    booking = None
                    if not plan.escrow[-1]:
                        skipped.append(SkippedStatement(item.statement_id, item.account, item.line))
                        continue
                    statement = self._statement(session, item, actor)
                    booking = _Booking(session, lookups, ledger, statement, keys, self.clock)
                    bookings.append((item, booking))
                    continue
                plan.totals.add(item)
                if booking is not None:
                    self._check_currency(item.currency, "Ntry/Amt", item.line)
                    booking.add(item)
            _close(plan, booking)
            self._refuse_without_escrow(plan)
            if self.xsd_dir is not None:
                with open_stream() as again:  # seekable, as xmlschema's lazy reading needs
                    self.reader.validate_schema(again, self.xsd_dir, plan.version)
            digest = stream.finish()
            for _, booking in bookings:
                booking.statement.document_sha256 = booking.statement.document_sha256 or digest
                for reconcile in self.reconcilers:
                    reconcile(session, booking.statement.id)
            return self._results(session, bookings, skipped, digest, actor)

    @contextmanager
    def _lookups(self, session: Session) -> Iterator[Connection]:
        """Where a booking looks up what is stored before it (earlier imports' entries, the
        companies) and takes its entries' ids: on PostgreSQL a connection of its own, each
        statement in autocommit, so that a lookup does not wait behind the entries the import's
        connection is still inserting (`_Booking._insert`: the next chunk is made meanwhile);
        on SQLite the import's own."""
        if self.db.is_sqlite:
            yield session.connection()
            return
        with self.db.autocommitted() as connection:
            yield connection

    def _open(self, plan: _Plan, header: StatementHeader) -> None:
        """A statement starts: at most STATEMENTS_PER_DOCUMENT_MAX, the escrow account's in its currency."""
        if len(plan.headers) == STATEMENTS_PER_DOCUMENT_MAX:
            raise StatementError(
                f"more than {STATEMENTS_PER_DOCUMENT_MAX} statements in one document; nothing was imported",
                element="Stmt",
                line=header.line,
            )
        plan.add(header, escrow=header.account == self.escrow_account)
        if plan.escrow[-1]:
            self._check_header(header)

    def _refuse_without_escrow(self, plan: _Plan) -> None:
        if not any(plan.escrow):
            first = plan.headers[0]
            raise StatementError(
                f"the statement is of account {_shown_account(first.account)}, not of the hub's escrow account "
                f"{_shown_account(self.escrow_account)}; nothing was imported",
                element="Acct/Id",
                line=first.line,
            )

    def _check_header(self, header: StatementHeader) -> None:
        """A statement of the escrow account: its currency and its booked balances' are the account's."""
        if header.currency is not None:
            self._check_currency(header.currency, "Acct/Ccy", header.line)
        for balance in (header.opening, header.closing):
            if balance is not None:
                self._check_currency(balance.currency, "Bal/Amt", balance.line)

    def _check_currency(self, currency: str, element: str, line: int) -> None:
        if currency != self.currency:
            raise StatementError(
                f"an amount in {currency}; the escrow account is kept in {self.currency}; nothing was imported",
                element=element,
                line=line,
            )

    def _results(
        self,
        session: Session,
        bookings: list[tuple[StatementHeader, _Booking]],
        skipped: list[SkippedStatement],
        digest: str,
        actor: Actor,
    ) -> ImportResult:
        """Each statement's result, with its continuity gaps, audited."""
        gaps = {view.statement_id: view.gaps for view in _statement_views(session, self.escrow_account)}
        results = []
        for header, booking in bookings:
            result = booking.result(header, gaps.get(booking.statement.id, ()))
            results.append(result)
            subject, detail = f"bank-statement:{result.statement_id}", _audited(header, result, digest)
            record_event(session, self.clock(), actor.name, "bank.statement.import", subject, **detail)
        return ImportResult(account=self.escrow_account, statements=tuple(results), skipped=tuple(skipped))

    def _statement(self, session: Session, header: StatementHeader, actor: Actor) -> BankStatement:
        """The statement's row: the first import's, when it was imported before. A new row's
        document_sha256 is set once the whole document is read (_book)."""
        sequence = header.electronic_sequence or ""
        existing = session.scalars(
            select(BankStatement).where(
                BankStatement.account == header.account,
                BankStatement.statement_id == header.statement_id,
                BankStatement.electronic_sequence == sequence,
            )
        ).one_or_none()
        if existing is not None:
            return existing
        # A balance missing here refuses the document when the statement ends (_Totals.check).
        opening, closing = header.opening, header.closing
        statement = BankStatement(
            account=header.account,
            statement_id=header.statement_id,
            electronic_sequence=sequence,
            version=header.version,
            message_id=header.message_id,
            created_at=header.created_at,
            opening_balance_grosze=opening.amount_grosze if opening else None,
            closing_balance_grosze=closing.amount_grosze if closing else None,
            document_sha256="",
            imported_at=self.clock(),
            imported_by=actor.name[:120],
        )
        session.add(statement)
        session.flush()
        return statement

    # -- statements --------------------------------------------------------

    def statements(self, *, actor: Actor) -> list[StatementView]:
        """The escrow account's imported statements in the bank's order, each with its gaps."""
        _require_operator(actor, SUSPENSE_READ)
        with self.db.read() as session:
            return _statement_views(session, self.escrow_account)

    # -- suspense ----------------------------------------------------------

    def suspense(self, *, actor: Actor, offset: int = 0, limit: int | None = None) -> list[EntryView]:
        """Credits waiting for a company (SUSPENSE) and reversals the operator must look at (REVIEW),
        oldest first; `offset` and `limit` page through them (suspense_count: how many in all)."""
        _require_operator(actor, SUSPENSE_READ)
        query = (
            select(BankEntry)
            .where(BankEntry.status.in_((SUSPENSE, REVIEW)))
            .order_by(BankEntry.id)
            .offset(offset)
            .limit(limit)
        )
        with self.db.read() as session:
            return [_view(session, row) for row in session.scalars(query)]

    def suspense_count(self, *, actor: Actor) -> int:
        _require_operator(actor, SUSPENSE_READ)
        with self.db.read() as session:
            return session.execute(
                select(func.count()).select_from(BankEntry).where(BankEntry.status.in_((SUSPENSE, REVIEW)))
            ).scalar_one()

    def assign(self, entry_id: int, nip: str, *, actor: Actor) -> EntryView:
        """Move a suspense credit to a company: suspense -> company, audited. Assigning it to
        the same company again changes nothing."""
        _require_operator(actor, SUSPENSE_ASSIGN)
        nip = valid_nip(nip)
        with self.db.transaction() as session:
            row = session.get(BankEntry, entry_id, with_for_update=True, populate_existing=True)
            if row is None:
                raise NotFound(f"no bank statement entry {entry_id}")
            company = find_company(session, nip)
            if row.status == ASSIGNED and row.company_id == company.id:
                return _view(session, row)
            if row.status != SUSPENSE:
                raise InvalidRequest(
                    f"bank statement entry {entry_id} is {row.status}; only a SUSPENSE credit can be assigned"
                )
            transfer = Ledger(session, self.clock).transfer(
                f"bank-entry:{row.id}:assign",
                SUSPENSE_ACCOUNT,
                company.ledger_code,
                row.amount_grosze,
                TransferCode.TOPUP,
                _reference(
                    {
                        field: getattr(row, field)
                        for field in ("id", "account_servicer_ref", "remittance", "debtor_name")
                    }
                ),
            )
            row.status, row.company_id, row.assign_transfer_id = ASSIGNED, company.id, transfer.id
            record_event(
                session,
                self.clock(),
                actor.name,
                "bank.suspense.assign",
                f"company:{nip}",
                entry=row.id,
                amount_grosze=row.amount_grosze,
                remittance=row.remittance,
            )
            session.flush()
            return _view(session, row)


class _Payee(NamedTuple):
    """A company a credit may be booked to: what the booking needs of it."""

    id: int
    nip: str
    virtual_account: str | None

    @property
    def ledger_code(self) -> str:
        return company_account(self.nip)


class _Booking:
    """One statement's booking: one BankEntry per new part, in file order. Parts are booked in
    chunks of BOOKING_CHUNK (one lookup of the keys stored before, one company lookup, one
    ledger apply, one insert, per chunk); a reversal is booked on its own once the parts
    before it are, since it looks for the credit it reverses."""

    def __init__(
        self,
        session: Session,
        lookups: Connection,
        ledger: Ledger,
        statement: BankStatement,
        keys: set[str],
        clock: Clock,
    ) -> None:
        self.session = session
        self.lookups = lookups  # StatementService._lookups
        self.ledger = ledger
        self.statement = statement
        self.clock = clock
        self.seen: Counter[str] = Counter()
        # Of the document's parts booked or waiting, this statement's and those before it: the
        # lookups see only what earlier imports stored, not this one's entries.
        self.keys = keys
        self.waiting: list[_Part] = []
        self.new = 0  # entries inserted by this import
        self.first_id: int | None = None  # of those, the first one's (_UNMATCHED_SINCE)
        self.duplicates = 0
        self.ignored = 0

    def add(self, entry: StatementEntry) -> None:
        if not entry.booked or entry.amount_grosze == 0:
            self.ignored += 1
            return
        for part in self._parts(entry):
            if entry.direction == DEBIT and entry.reversal:
                self.finish()
                if self._new([part]):
                    self._reversal(part)
                continue
            self.waiting.append(part)
            if len(self.waiting) >= BOOKING_CHUNK:
                self.finish()

    def finish(self) -> None:
        """Book the parts waiting: credits to their company (TOPUP) or to suspense (SUSPENSE);
        the hub's own transfers are stored UNMATCHED, not booked: settlement reconciles them.
        The transfers first, then the entries, each inserted once, naming its transfer."""
        parts, self.waiting = self._new(self.waiting), []
        if not parts:
            return
        now = self.clock()  # one reading a chunk: its entries are stored in the same instant
        ids = _NEW_ENTRIES.reserve_ids(self.lookups, len(parts))
        rows = [self._row(part, now, id) for part, id in zip(parts, ids, strict=True)]
        credits = [
            row
            for part, row in zip(parts, rows, strict=True)
            if part.entry.direction == CREDIT and not part.entry.reversal
        ]
        credited: list[tuple[dict, str, str]] = []  # (row, ledger account, transfer code)
        for row, company in zip(credits, self._companies(credits), strict=True):
            if company is None:
                row["status"] = SUSPENSE
                credited.append((row, SUSPENSE_ACCOUNT, TransferCode.SUSPENSE))
            else:
                row["status"], row["company_id"] = TOPUP, company.id
                credited.append((row, company.ledger_code, TransferCode.TOPUP))
            row["ledger_transfer_id"] = _transfer_id(row)
        self.ledger.apply_fresh(  # their ids are the entries', reserved above
            [
                NewTransfer(row["ledger_transfer_id"], ESCROW, account, row["amount_grosze"], code, _reference(row))
                for row, account, code in credited
            ]
        )
        self._insert(rows)

    def result(self, header: StatementHeader, gaps: tuple[str, ...]) -> StatementResult:
        unmatched = 0
        if self.first_id is not None:
            since = {"statement_id": self.statement.id, "first_id": self.first_id}
            unmatched = self.session.execute(_UNMATCHED_SINCE, since).scalar_one()
        # A booked statement has both balances: _Totals.check refused one without them.
        assert header.opening is not None and header.closing is not None
        return StatementResult(
            statement_id=self.statement.id,
            bank_statement_id=header.statement_id,
            sequence=self.statement.electronic_sequence,
            opening_grosze=header.opening.amount_grosze,
            closing_grosze=header.closing.amount_grosze,
            imported=self.new - unmatched,
            duplicates=self.duplicates,
            unmatched=unmatched,
            ignored=self.ignored,
            gaps=gaps,
        )

    # -- entries -----------------------------------------------------------

    def _parts(self, entry: StatementEntry) -> Iterator[_Part]:
        """A batch-booked entry whose transactions carry their own amounts, in the entry's
        currency and adding up to it, is split into one part per transaction; any other
        entry is one part."""
        base = self._key(entry)
        txs = entry.transactions
        amounts = [t.amount_grosze for t in txs if t.amount_grosze]  # those given, and not 0
        split = (
            len(txs) > 1
            and len(amounts) == len(txs)
            and all(t.currency == entry.currency for t in txs)
            and sum(amounts) == entry.amount_grosze
        )
        if not split:
            yield _Part(entry, base, entry.amount_grosze, txs)
            return
        for i, (tx, amount) in enumerate(zip(txs, amounts, strict=True), start=1):
            yield _Part(entry, f"{base}/{i}", amount, (tx,))

    def _key(self, entry: StatementEntry) -> str:
        if entry.account_servicer_ref:
            base = f"ref:{entry.account_servicer_ref}"
        else:
            fields = [
                entry.direction,
                entry.reversal,
                entry.amount_grosze,
                entry.currency,
                entry.booking_date,
                entry.value_date,
                entry.entry_ref,
                # Strd references only when there are some: the keys of entries imported before stay as they were.
                [
                    [
                        t.amount_grosze,
                        t.end_to_end_id,
                        t.account_servicer_ref,
                        t.creditor_account,
                        t.debtor_name,
                        t.debtor_account,
                        t.remittance,
                    ]
                    + ([list(t.references)] if t.references else [])
                    for t in entry.transactions
                ],
            ]
            blob = json.dumps(fields, default=str, separators=(",", ":"), ensure_ascii=False)
            base = "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
        self.seen[base] += 1
        n = self.seen[base]
        return base if n == 1 else f"{base}#{n}"

    def _new(self, parts: list[_Part]) -> list[_Part]:
        """The parts to book: neither met before in this document nor stored by an earlier
        import; the others are counted as duplicates. One lookup by the unique index on
        (account, entry_key) a chunk; imports take turns (_lock_escrow), so a part found new
        here is still new when it is inserted."""
        unseen = []
        for part in parts:
            if part.key in self.keys:
                self.duplicates += 1
            else:
                unseen.append(part)
                self.keys.add(part.key)
        if not unseen:
            return []
        stored = set(
            self.lookups.execute(
                _STORED_KEYS[self.lookups.dialect.name],
                {"account": self.statement.account, "keys": [part.key for part in unseen]},
            ).scalars()
        )
        self.duplicates += len(stored)
        return [part for part in unseen if part.key not in stored]

    def _row(self, part: _Part, now: datetime, id: int) -> dict:
        """The BankEntry of a part, as insert values: UNMATCHED and not booked, until the caller says otherwise."""
        entry = part.entry
        return dict(
            id=id,
            statement_id=self.statement.id,
            account=self.statement.account,
            entry_key=part.key,
            direction=entry.direction,
            reversal=entry.reversal,
            amount_grosze=part.amount_grosze,
            booking_date=entry.booking_date,
            value_date=entry.value_date,
            account_servicer_ref=entry.account_servicer_ref,
            entry_ref=entry.entry_ref,
            end_to_end_id=part.first("end_to_end_id"),
            creditor_account=part.first("creditor_account"),
            debtor_name=(part.first("debtor_name") or "")[:140] or None,
            debtor_account=part.first("debtor_account"),
            remittance=part.remittance,
            line=part.transactions[0].line if len(part.transactions) == 1 else entry.line,
            status=UNMATCHED,
            company_id=None,
            ledger_transfer_id=None,
            reverses_id=None,
            created_at=now,
        )

    def _insert(self, rows: list[dict]) -> None:
        """Insert the new entries (_new) in one statement (BulkInsert), with their reserved ids.
        On PostgreSQL the booking goes on while the server inserts them (`BulkInsert.send`): the
        next chunk's lookups run on a connection of their own (StatementService._lookups), and
        the next statement on the import's connection reads the insert's answer first."""
        _NEW_ENTRIES.send(self.session.connection(), rows)
        self.new += len(rows)
        if self.first_id is None:
            self.first_id = rows[0]["id"]  # reserved in ascending order

    def _companies(self, rows: list[dict]) -> list[_Payee | None]:
        """Each credit's company: by the virtual account paid to; else the one registered
        company whose NIP the remittance text names."""
        accounts = {row["creditor_account"] for row in rows if row["creditor_account"]}
        by_account = {c.virtual_account: c for c in self._select(Company.virtual_account, accounts)}
        named = [set() if row["creditor_account"] in by_account else _named_nips(row["remittance"]) for row in rows]
        by_nip = {c.nip: c for c in self._select(Company.nip, set().union(*named))}
        found: list[_Payee | None] = []
        for row, nips in zip(rows, named, strict=True):
            if row["creditor_account"] in by_account:
                found.append(by_account[row["creditor_account"]])
                continue
            companies = [by_nip[nip] for nip in nips if nip in by_nip]
            found.append(companies[0] if len(companies) == 1 else None)
        return found

    def _select(self, column, values: set[str]) -> list[_Payee]:
        if not values:
            return []
        found = self.lookups.execute(select(Company.id, Company.nip, Company.virtual_account).where(column.in_(values)))
        return [_Payee(*row) for row in found]

    def _reversal(self, part: _Part) -> None:
        """Undo the credit the reversal names where it went; a reversal of an unknown credit,
        or one the company can no longer cover, is booked against suspense, REVIEW."""
        row = self._row(part, self.clock(), _NEW_ENTRIES.reserve_ids(self.lookups, 1)[0])
        original = self._reversed_credit(row, part.references)
        if original is not None:
            row["reverses_id"], row["company_id"] = original.id, original.company_id
            original.status, was = REVERSED, original.status
        transfer_id, amount, reference = _transfer_id(row), row["amount_grosze"], _reference(row)
        if original is None:
            status, debit = (REVIEW, SUSPENSE_ACCOUNT)  # money left the escrow for a credit the hub does not know
        elif was == SUSPENSE:
            status, debit = REVERSAL, SUSPENSE_ACCOUNT
        else:
            company = self.session.get(Company, original.company_id)
            assert company is not None  # a TOPUP or ASSIGNED credit was booked to its company
            try:
                self.ledger.transfer(transfer_id, company.ledger_code, ESCROW, amount, TransferCode.TOPUP, reference)
                status, debit = REVERSAL, None
            except InsufficientFunds:
                # The company has spent or reserved it: never overdraw; the operator recovers it.
                status, debit = REVIEW, SUSPENSE_ACCOUNT
        if debit is not None:
            self.ledger.transfer(transfer_id, debit, ESCROW, amount, TransferCode.SUSPENSE, reference)
        row["status"], row["ledger_transfer_id"] = status, transfer_id
        self._insert([row])

    def _reversed_credit(self, row: dict, references: set[str]) -> BankEntry | None:
        if not references:
            return None
        return self.session.scalars(
            select(BankEntry)
            .where(
                BankEntry.account == row["account"],
                BankEntry.direction == CREDIT,
                BankEntry.reversal.is_(False),
                BankEntry.amount_grosze == row["amount_grosze"],
                BankEntry.status.in_((TOPUP, SUSPENSE, ASSIGNED)),  # not REVERSED yet
                BankEntry.account_servicer_ref.in_(references) | BankEntry.end_to_end_id.in_(references),
            )
            .order_by(BankEntry.id)
            .limit(1)
            .with_for_update()
        ).one_or_none()


class _Tap(io.RawIOBase):
    """A binary stream that hashes what is read through it and reports progress."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        super().__init__()
        self.raw = raw
        self.progress = progress
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        if self.progress is not None and data:
            self.progress(len(data))
        return len(data)

    @property
    def binary(self) -> BinaryIO:
        """This stream as a reader takes it: a RawIOBase is a binary stream, but not of the class typing.BinaryIO."""
        return cast(BinaryIO, self)

    def finish(self) -> str:
        """Read what the parser left (nothing but whitespace after the root) and return the digest."""
        while self.read(READ_CHUNK_BYTES):
            pass
        return self.sha256.hexdigest()


def _audited(header: StatementHeader, result: StatementResult, digest: str) -> dict:
    """What the audit log keeps of one statement's import."""
    counts = {name: getattr(result, name) for name in ("imported", "duplicates", "unmatched", "ignored")}
    return {
        "statement": header.statement_id,
        "account": header.account,
        "sha256": digest,
        **counts,
        "gaps": list(result.gaps),
    }


def _close(plan: _Plan, booking: _Booking | None) -> None:
    """A statement ends (the next starts, or the document): it must add up; its last parts are booked."""
    if plan.current is None:
        return
    plan.current.check()
    if booking is not None:
        booking.finish()


def _lock_escrow(session: Session) -> None:
    """One import at a time: the second waits here and then sees the first's entries."""
    session.execute(select(LedgerAccount.id).where(LedgerAccount.code == ESCROW).with_for_update())


def _require_hub_side(actor: Actor, permission: str) -> None:
    actor.require(permission)
    if actor.company_nip is not None or actor.offices:
        raise NotAuthorized(f"{actor.name} acts for a company or an office; bank statements are the hub's own")


def _require_operator(actor: Actor, permission: str) -> None:
    actor.require(permission)
    if not actor.is_operator:
        raise NotAuthorized(f"{actor.name} may not handle the suspense account; only the hub's operator may")


def _named_nips(text: str) -> set[str]:
    """The valid NIPs a remittance text names, however grouped, or as the body of an RF
    creditor reference (ISO 11649, the company's own: hub.ids.rf_reference)."""
    nips = {m for m in (t.replace("-", "").replace(" ", "") for t in _NIP_TEXT.findall(text)) if _nip_valid(m)}
    for word in _RF_TEXT.findall(text):
        body = rf_reference_body(word)
        if body is not None and _nip_valid(body):
            nips.add(body)
    return nips


def _statement_views(session: Session, account: str) -> list[StatementView]:
    """Every statement of `account`, in the bank's order (by ElctrncSeqNb where it is a number,
    then by creation time), each with its gaps against the one before it."""
    entries = dict(
        session.execute(
            select(BankEntry.statement_id, func.count())
            .where(BankEntry.account == account)
            .group_by(BankEntry.statement_id)
        ).all()
    )
    rows = sorted(session.scalars(select(BankStatement).where(BankStatement.account == account)), key=_bank_order)
    views, previous = [], None
    for row in rows:
        views.append(
            StatementView(
                statement_id=row.id,
                bank_statement_id=row.statement_id,
                sequence=row.electronic_sequence,
                created_at=row.created_at,
                opening_grosze=row.opening_balance_grosze,
                closing_grosze=row.closing_balance_grosze,
                entries=entries.get(row.id, 0),
                imported_at=row.imported_at,
                gaps=_gaps(previous, row),
            )
        )
        previous = row
    return views


def _bank_order(row: BankStatement) -> tuple:
    numbered = _sequence_number(row.electronic_sequence)
    return (0, numbered, row.id) if numbered is not None else (1, row.created_at.timestamp(), row.id)


def _sequence_number(text: str) -> int | None:
    return int(text) if text and len(text) <= 18 and all("0" <= c <= "9" for c in text) else None


def _gaps(previous: BankStatement | None, row: BankStatement) -> tuple[str, ...]:
    """What is missing between the statement before and this one: sequence numbers, or money."""
    if previous is None:
        return ()
    gaps = []
    before, now = (_sequence_number(previous.electronic_sequence), _sequence_number(row.electronic_sequence))
    if before is not None and now is not None and now > before + 1:
        missing = str(before + 1) if now == before + 2 else f"{before + 1} to {now - 1}"
        gaps.append(f"ElctrncSeqNb {missing} missing (after statement {previous.statement_id}, sequence {before})")
    if (
        previous.closing_balance_grosze is not None
        and row.opening_balance_grosze is not None
        and previous.closing_balance_grosze != row.opening_balance_grosze
    ):
        gaps.append(
            f"opening balance {format_pln(row.opening_balance_grosze)} is not the closing balance "
            f"{format_pln(previous.closing_balance_grosze)} of statement {previous.statement_id}"
        )
    return tuple(gaps)


def statement_gap_count(session: Session, account: str) -> int:
    """How many statements of `account` follow a gap (for /metrics)."""
    return sum(1 for view in _statement_views(session, account) if view.gaps)


def _signed(balance: Balance) -> str:
    return f"{format_pln(balance.amount_grosze)} {balance.currency}"


def _transfer_id(row: dict) -> str:
    return f"bank-entry:{row['id']}"


def _reference(row: dict) -> str:
    """A bank entry's ledger reference; `row` has its id, account_servicer_ref, remittance and debtor_name."""
    text = " ".join(part for part in (row["account_servicer_ref"], row["remittance"] or row["debtor_name"]) if part)
    return (text or f"bank statement entry {row['id']}")[:200]


def _shown_account(account: str) -> str:
    return format_nrb(account) if len(account) == 26 and account.isdigit() else account


def _view(session: Session, row: BankEntry) -> EntryView:
    company = session.get(Company, row.company_id) if row.company_id else None
    statement = session.get(BankStatement, row.statement_id)
    assert statement is not None  # an entry's statement (foreign key)
    return EntryView(
        entry_id=row.id,
        status=row.status,
        direction=row.direction,
        amount_grosze=row.amount_grosze,
        booking_date=row.booking_date,
        debtor_name=row.debtor_name,
        debtor_account=row.debtor_account,
        creditor_account=row.creditor_account,
        remittance=row.remittance,
        end_to_end_id=row.end_to_end_id,
        company_nip=company.nip if company else None,
        bank_statement_id=statement.statement_id,
    )
