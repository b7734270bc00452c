from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, UtcDateTime
from hub.ledger.chart import company_account


class StatementKind(StrEnum):
    """A company statement entry's kind (GetStatement's `Kind`, hub.words.STATEMENT_KIND):
    what the company sees, read from the ledger's transfer kinds and codes."""

    TOPUP = "TOPUP"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    RELEASE = "RELEASE"
    ADJUSTMENT = "ADJUSTMENT"


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    nip: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None under an IBAN escrow account (hub.companies.service.title_matching_only)
    virtual_account: Mapped[str | None] = mapped_column(String(26), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @property
    def ledger_code(self) -> str:
        return company_account(self.nip)
