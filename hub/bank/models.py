"""Bank statements as imported, and their entries.

A `BankStatement` is one camt.053 `Stmt` of the escrow account, known by the account, the
bank's statement id and electronic sequence number. A `BankEntry` is one booked entry of it
(or one transaction of a batch-booked entry whose transactions carry their own amounts),
known by `entry_key`: the bank's AcctSvcrRef, else a hash of its fields, so an entry that
appears in two overlapping statements is booked once.

Statuses (`status`):

| status     | direction | what it is                                                        |
| ---------- | --------- | ----------------------------------------------------------------- |
| TOPUP      | CRDT      | matched to a company; booked escrow -> company                    |
| SUSPENSE   | CRDT      | no company found; booked escrow -> suspense, waits for `assign`   |
| ASSIGNED   | CRDT      | was SUSPENSE; the operator moved it to a company                  |
| REVERSED   | CRDT      | the bank reversed it later (see the entry whose `reverses_id` it) |
| REVERSAL   | DBIT      | a reversal of an earlier credit, undone where that credit went    |
| REVIEW     | DBIT      | a reversal booked against suspense: the operator must act         |
| UNMATCHED  | any       | the hub's own transfers (debits, returned payouts): not booked    |
|            |           | here; settlement reconciles them by `end_to_end_id`               |
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime


class Direction(StrEnum):
    """`BankEntry.direction`, as camt.053 writes it (CdtDbtInd)."""

    CREDIT = "CRDT"
    DEBIT = "DBIT"


class EntryStatus(StrEnum):
    """`BankEntry.status`: the table above."""

    TOPUP = "TOPUP"
    SUSPENSE = "SUSPENSE"
    ASSIGNED = "ASSIGNED"
    REVERSED = "REVERSED"
    REVERSAL = "REVERSAL"
    REVIEW = "REVIEW"
    UNMATCHED = "UNMATCHED"


# The members by the short names the services use.
CREDIT, DEBIT = Direction.CREDIT, Direction.DEBIT
TOPUP, SUSPENSE, ASSIGNED, REVERSED, REVERSAL, REVIEW, UNMATCHED = (
    EntryStatus.TOPUP,
    EntryStatus.SUSPENSE,
    EntryStatus.ASSIGNED,
    EntryStatus.REVERSED,
    EntryStatus.REVERSAL,
    EntryStatus.REVIEW,
    EntryStatus.UNMATCHED,
)
# New entries that the hub could not assign (SubmitStatementResponse/Unmatched).
UNMATCHED_STATUSES = (SUSPENSE, REVIEW, UNMATCHED)


class BankStatement(Base):
    __tablename__ = "bank_statements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(34))  # compact IBAN, or NRB for a Polish one
    statement_id: Mapped[str] = mapped_column(String(35))  # Stmt/Id
    electronic_sequence: Mapped[str] = mapped_column(String(20))  # Stmt/ElctrncSeqNb, "" when absent
    version: Mapped[str] = mapped_column(String(8))  # camt.053 "001.02" / "001.04" / "001.08"
    message_id: Mapped[str] = mapped_column(String(35))  # GrpHdr/MsgId of the first import
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)  # CreDtTm
    opening_balance_grosze: Mapped[int | None] = mapped_column(BigInteger)
    closing_balance_grosze: Mapped[int | None] = mapped_column(BigInteger)
    document_sha256: Mapped[str] = mapped_column(String(64))  # of the first import
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    imported_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("account", "statement_id", "electronic_sequence"),)


class BankEntry(Base):
    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    account: Mapped[str] = mapped_column(String(34))
    entry_key: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(4))
    reversal: Mapped[bool] = mapped_column(Boolean)
    amount_grosze: Mapped[int] = mapped_column(BigInteger)
    booking_date: Mapped[date | None] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    account_servicer_ref: Mapped[str | None] = mapped_column(String(35))
    entry_ref: Mapped[str | None] = mapped_column(String(35))
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), index=True)
    creditor_account: Mapped[str | None] = mapped_column(String(34))
    debtor_name: Mapped[str | None] = mapped_column(String(140))
    debtor_account: Mapped[str | None] = mapped_column(String(34))
    remittance: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[int] = mapped_column(Integer)  # in the statement file, for support
    status: Mapped[str] = mapped_column(String(12))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    ledger_transfer_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    assign_transfer_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("bank_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("account", "entry_key"),
        CheckConstraint("amount_grosze > 0", name="amount_positive"),
        CheckConstraint("direction IN ('CRDT', 'DBIT')", name="direction_known"),
        Index("ix_bank_entries_status", "status", "id"),
    )
