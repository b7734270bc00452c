"""The ledger's one service. Works inside the caller's transaction, so a domain
operation and its transfers commit or roll back together.

Concurrency: every write locks the accounts it touches (`FOR UPDATE`, in id
order so two writers cannot deadlock) and reads their totals fresh under the
lock before checking limits. On SQLite the whole write transaction already
holds the database lock (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from hub.clock import Clock, utcnow
from hub.db.database import insert_if_absent
from hub.errors import IdempotencyConflict, InsufficientFunds, LedgerInvariantError, NotFound
from hub.ledger.codes import TransferKind
from hub.ledger.models import LedgerAccount, LedgerTransfer
from hub.money import format_pln

POSTED, PENDING, POST, VOID = (
    TransferKind.POSTED,
    TransferKind.PENDING,
    TransferKind.POST,
    TransferKind.VOID,
)


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
    def of(cls, account: LedgerAccount) -> Balance:
        return cls(
            account.debits_pending,
            account.debits_posted,
            account.credits_pending,
            account.credits_posted,
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
    for name in ("debits_pending", "debits_posted", "credits_pending", "credits_posted"):
        kept, derived = getattr(stored, name), getattr(computed, name)
        if kept != derived:
            sign = "+" if kept > derived else ""
            parts.append(
                f"{name} {format_pln(kept)} PLN, its transfers give {format_pln(derived)} PLN (difference {sign}{format_pln(kept - derived)})"
            )
    return "; ".join(parts)


class Ledger:
    def __init__(self, session: Session, clock: Clock = utcnow) -> None:
        self.session = session
        self.clock = clock

    # -- accounts ---------------------------------------------------------

    def open_account(self, code: str, kind: str, *, no_overdraft: bool = False) -> LedgerAccount:
        """Get or create; safe when two processes open the same account at once."""
        values = dict(
            code=code,
            kind=kind,
            debits_must_not_exceed_credits=no_overdraft,
            debits_pending=0,
            debits_posted=0,
            credits_pending=0,
            credits_posted=0,
            created_at=self.clock(),
        )
        self.session.execute(
            insert_if_absent(self.session.bind.dialect.name, LedgerAccount.__table__, "code"),
            values,
        )
        account = self.session.scalars(
            select(LedgerAccount).where(LedgerAccount.code == code)
        ).one()
        if account.kind != kind or account.debits_must_not_exceed_credits != no_overdraft:
            raise LedgerInvariantError(f"account {code} exists as {account.kind}, asked for {kind}")
        return account

    def account(self, code: str) -> LedgerAccount:
        account = self.session.scalars(
            select(LedgerAccount).where(LedgerAccount.code == code)
        ).one_or_none()
        if account is None:
            raise NotFound(f"no ledger account {code}")
        return account

    def balance(self, code: str) -> Balance:
        return Balance.of(self.account(code))

    # -- transfers --------------------------------------------------------

    def transfer(
        self, id: str, debit: str, credit: str, amount_grosze: int, code: str, reference: str = ""
    ) -> LedgerTransfer:
        return self.apply([NewTransfer(id, debit, credit, amount_grosze, code, reference)])[0]

    def hold(
        self, id: str, debit: str, credit: str, amount_grosze: int, code: str, reference: str = ""
    ) -> LedgerTransfer:
        return self.apply(
            [NewTransfer(id, debit, credit, amount_grosze, code, reference, pending=True)]
        )[0]

    def apply(self, transfers: Sequence[NewTransfer]) -> list[LedgerTransfer]:
        """Create POSTED and PENDING transfers, all or none. A transfer whose id
        exists already with the same content is returned as it is (idempotency);
        with other content it is an IdempotencyConflict."""
        codes = {t.debit for t in transfers} | {t.credit for t in transfers}
        accounts = self._lock_codes(codes)
        by_code = {a.code: a for a in accounts.values()}
        before = {a.id: Balance.of(a) for a in accounts.values()}

        existing = self._existing([t.id for t in transfers])
        result: list[LedgerTransfer] = []
        fresh: list[tuple[NewTransfer, LedgerTransfer]] = []
        debit_totals: dict[int, int] = defaultdict(int)
        for t in transfers:
            debit, credit = by_code[t.debit], by_code[t.credit]
            row = LedgerTransfer(
                id=t.id,
                kind=PENDING if t.pending else POSTED,
                code=t.code,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                amount_grosze=t.amount_grosze,
                pending_id=None,
                reference=t.reference,
                created_at=self.clock(),
            )
            if t.id in existing:
                result.append(self._same_or_conflict(existing[t.id], row))
                continue
            if t.amount_grosze <= 0:
                raise LedgerInvariantError(
                    f"transfer {t.id}: amount must be positive, got {t.amount_grosze}"
                )
            if debit.id == credit.id:
                raise LedgerInvariantError(
                    f"transfer {t.id}: debit and credit are the same account"
                )
            debit_totals[debit.id] += t.amount_grosze
            fresh.append((t, row))
            result.append(row)

        for account_id, total in debit_totals.items():
            account = accounts[account_id]
            if account.debits_must_not_exceed_credits and total > Balance.of(account).available:
                raise InsufficientFunds(Balance.of(account).available, total)

        for t, row in fresh:
            debit, credit = by_code[t.debit], by_code[t.credit]
            if t.pending:
                debit.debits_pending += t.amount_grosze
                credit.credits_pending += t.amount_grosze
            else:
                debit.debits_posted += t.amount_grosze
                credit.credits_posted += t.amount_grosze
        self.session.add_all(row for _, row in fresh)
        self.session.flush()
        self._check_after(accounts.values(), before)
        return result

    def post(
        self,
        id: str,
        pending_id: str,
        amount_grosze: int | None = None,
        *,
        code: str,
        reference: str = "",
    ) -> LedgerTransfer:
        """Capture a hold: post `amount_grosze` of it (default all); the rest is released."""
        return self._resolve(id, pending_id, POST, amount_grosze, code, reference)

    def void(self, id: str, pending_id: str, *, code: str, reference: str = "") -> LedgerTransfer:
        """Release a hold in full."""
        return self._resolve(id, pending_id, VOID, None, code, reference)

    def resolution(self, pending_id: str) -> LedgerTransfer | None:
        """The POST or VOID that resolved a pending transfer, if any."""
        return self.session.scalars(
            select(LedgerTransfer).where(LedgerTransfer.pending_id == pending_id)
        ).one_or_none()

    def _resolve(
        self, id: str, pending_id: str, kind: str, amount: int | None, code: str, reference: str
    ) -> LedgerTransfer:
        pending = self.session.get(LedgerTransfer, pending_id)
        if pending is None or pending.kind != PENDING:
            raise LedgerInvariantError(f"transfer {pending_id} is not a pending transfer")
        accounts = self._lock({pending.debit_account_id, pending.credit_account_id})
        before = {a.id: Balance.of(a) for a in accounts.values()}
        amount = pending.amount_grosze if amount is None else amount
        row = LedgerTransfer(
            id=id,
            kind=kind,
            code=code,
            debit_account_id=pending.debit_account_id,
            credit_account_id=pending.credit_account_id,
            amount_grosze=amount if kind == POST else pending.amount_grosze,
            pending_id=pending_id,
            reference=reference,
            created_at=self.clock(),
        )
        existing = self.session.get(LedgerTransfer, id)
        if existing is not None:
            return self._same_or_conflict(existing, row)
        if self.resolution(pending_id) is not None:
            raise LedgerInvariantError(f"pending transfer {pending_id} is already resolved")
        if kind == POST and not 0 < amount <= pending.amount_grosze:
            raise LedgerInvariantError(f"cannot post {amount} of a {pending.amount_grosze} hold")

        debit, credit = accounts[pending.debit_account_id], accounts[pending.credit_account_id]
        debit.debits_pending -= pending.amount_grosze
        credit.credits_pending -= pending.amount_grosze
        if kind == POST:
            debit.debits_posted += amount
            credit.credits_posted += amount
        self.session.add(row)
        self.session.flush()
        self._check_after(accounts.values(), before)
        return row

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
        for account in self.session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)):
            stored = Balance.of(account)
            computed = derived.get(account.id, Balance(0, 0, 0, 0))
            if stored != computed:
                problems.append(f"account {account.code}: {_differences(stored, computed)}")
            if account.debits_must_not_exceed_credits and stored.available < 0:
                problems.append(
                    f"account {account.code} is overdrawn: available {format_pln(stored.available)} PLN"
                )
            for i, v in enumerate(
                (
                    stored.debits_pending,
                    stored.debits_posted,
                    stored.credits_pending,
                    stored.credits_posted,
                )
            ):
                totals[i] += v
        if totals[0] != totals[2] or totals[1] != totals[3]:
            problems.append(
                f"debits and credits differ over the ledger: debits less credits are {format_pln(totals[0] - totals[2])} PLN "
                f"pending, {format_pln(totals[1] - totals[3])} PLN posted"
            )
        pending = aliased(LedgerTransfer)
        over = (
            self.session.execute(
                select(LedgerTransfer.id)
                .join(pending, pending.id == LedgerTransfer.pending_id)
                .where(
                    (LedgerTransfer.amount_grosze > pending.amount_grosze)
                    | (pending.kind != PENDING)
                )
            )
            .scalars()
            .all()
        )
        problems.extend(f"transfer {t} resolves more than its pending transfer" for t in over)
        return problems

    def trial_balance(self) -> list[tuple[str, str, Balance]]:
        """Every account with its totals: (code, kind, balance)."""
        rows = self.session.scalars(select(LedgerAccount).order_by(LedgerAccount.code))
        return [(a.code, a.kind, Balance.of(a)) for a in rows]

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

    def _lock(self, account_ids: Iterable[int]) -> dict[int, LedgerAccount]:
        """Lock rows in id order and read their totals fresh under the lock."""
        ids = sorted(set(account_ids))
        rows = self.session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.id.in_(ids))
            .order_by(LedgerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        return {a.id: a for a in rows}

    def _lock_codes(self, codes: set[str]) -> dict[int, LedgerAccount]:
        """`_lock` by account code, in one round trip: this is on every hold."""
        rows = self.session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.code.in_(sorted(codes)))
            .order_by(LedgerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        missing = codes - {a.code for a in rows}
        if missing:
            raise NotFound(f"no ledger account {sorted(missing)[0]}")
        return {a.id: a for a in rows}

    def _existing(self, ids: list[str]) -> dict[str, LedgerTransfer]:
        found: dict[str, LedgerTransfer] = {}
        for chunk in range(0, len(ids), 500):
            for row in self.session.scalars(
                select(LedgerTransfer).where(LedgerTransfer.id.in_(ids[chunk : chunk + 500]))
            ):
                found[row.id] = row
        return found

    @staticmethod
    def _same_or_conflict(existing: LedgerTransfer, wanted: LedgerTransfer) -> LedgerTransfer:
        fields = (
            "kind",
            "code",
            "debit_account_id",
            "credit_account_id",
            "amount_grosze",
            "pending_id",
        )
        if any(getattr(existing, f) != getattr(wanted, f) for f in fields):
            raise IdempotencyConflict(f"transfer {existing.id} exists with other content")
        return existing

    @staticmethod
    def _check_after(accounts: Iterable[LedgerAccount], before: dict[int, Balance]) -> None:
        for a in accounts:
            b = Balance.of(a)
            if min(b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted) < 0:
                raise LedgerInvariantError(
                    f"account {a.code}: a total went below zero: {b} (was {before[a.id]})"
                )
            if a.debits_must_not_exceed_credits and b.available < 0:
                raise LedgerInvariantError(f"account {a.code} overdrawn: {b} (was {before[a.id]})")
