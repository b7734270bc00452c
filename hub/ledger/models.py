"""Ledger tables: accounts with running totals, and immutable transfers.

The running totals on an account are a cache of its transfers, kept in the
same transaction; `Ledger.verify()` recomputes them from the transfers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # A company's prepaid money: debits (posted and pending) may never exceed credits posted.
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
            name="no_overdraft",
        ),
        # the moves held for a commit are checked by these two, not read back (hub.ledger.service)
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="totals_not_negative",
        ),
    )


class LedgerTransfer(Base):
    """`kind`: POSTED (a plain transfer), PENDING (a hold), POST (posts a pending
    transfer, all or part; the rest is released) or VOID (releases it all).
    `pending_id` is unique: a pending transfer resolves at most once."""

    __tablename__ = "ledger_transfers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(16))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_grosze: Mapped[int] = mapped_column(BigInteger)
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("amount_grosze >= 0", name="amount_not_negative"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        CheckConstraint("kind IN ('POSTED', 'PENDING', 'POST', 'VOID')", name="kind_known"),
        CheckConstraint("(kind IN ('POST', 'VOID')) = (pending_id IS NOT NULL)", name="resolves_a_pending"),
        Index("ix_ledger_transfers_debit", "debit_account_id", "created_at"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "created_at"),
    )


class LedgerCheck(Base):
    """The last run of `hub ledger verify` (one row, replaced by each run): when it ran and
    what it found, for /metrics to read in whichever worker answers a scrape."""

    __tablename__ = "ledger_checks"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # always LAST_RUN
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accounts: Mapped[int] = mapped_column(BigInteger)
    problem_count: Mapped[int] = mapped_column(BigInteger)
    problems: Mapped[str] = mapped_column(Text)  # one line per problem, empty when the ledger is sound
