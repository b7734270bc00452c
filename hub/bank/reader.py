"""What the statement import reads from a bank: a camt.053 statement as plain records, and the
`StatementReader` protocol the import reads them through.

The domain knows no XML: the reader (`hub.adapters.camt.CamtReader`, lxml) is injected by
hub/app.py. A reader yields, for each statement (`Stmt`) of a document in file order, its
`StatementHeader` and then every `StatementEntry` of it, while it parses, so that memory stays
flat however many entries a document holds. Every problem of the document is a
`StatementError` naming the element and its line.

The records are NamedTuples: immutable like a frozen dataclass, and made several times faster
(a frozen dataclass sets each field through object.__setattr__), which counts at a hundred
thousand entries a file.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

BOOKED = "BOOK"
# ExternalEntryStatus1Code: booked, pending, information only, future. Anything else is refused:
# an entry the hub cannot tell booked or not would make the balance check meaningless.
ENTRY_STATUSES = (BOOKED, "PDNG", "INFO", "FUTR")
CREDIT, DEBIT = "CRDT", "DBIT"


class Balance(NamedTuple):
    code: str  # OPBD, PRCD, CLBD
    amount_grosze: int  # signed: a debit balance is negative
    currency: str
    on: date | None
    line: int


class StatementHeader(NamedTuple):
    version: str  # "001.02", "001.04" or "001.08"
    message_id: str  # GrpHdr/MsgId
    statement_id: str  # Stmt/Id
    electronic_sequence: str | None  # Stmt/ElctrncSeqNb
    account: str  # Acct/Id/IBAN or Acct/Id/Othr/Id, compact (hub.ids.normalize_account)
    currency: str | None  # Acct/Ccy, when given
    created_at: datetime  # Stmt/CreDtTm (.08: optional, then GrpHdr/CreDtTm), aware
    opening: Balance | None  # OPBD, else PRCD
    closing: Balance | None  # CLBD
    line: int  # of Stmt


class Transaction(NamedTuple):
    """One NtryDtls/TxDtls: who paid whom, and why."""

    amount_grosze: int | None  # TxDtls/Amt (.02: AmtDtls/TxAmt/Amt), when given
    currency: str | None
    end_to_end_id: str | None  # None for an absent one or NOTPROVIDED
    account_servicer_ref: str | None  # Refs/AcctSvcrRef
    creditor_account: str | None  # RltdPties/CdtrAcct: the (virtual) account paid to
    debtor_name: str | None
    debtor_account: str | None
    remittance: str  # every RmtInf/Ustrd, joined by a space
    # every RmtInf/Strd/CdtrRefInf/Ref (an RF creditor reference, or the payer's own)
    references: tuple[str, ...]
    line: int


class StatementEntry(NamedTuple):
    amount_grosze: int
    currency: str
    direction: str  # CRDT or DBIT
    reversal: bool  # RvslInd
    status: str  # Sts (.08: Sts/Cd or Sts/Prtry): one of ENTRY_STATUSES
    booking_date: date | None
    value_date: date | None
    account_servicer_ref: str | None  # Ntry/AcctSvcrRef
    entry_ref: str | None  # Ntry/NtryRef
    transactions: tuple[Transaction, ...]
    line: int

    @property
    def booked(self) -> bool:
        return self.status == BOOKED


class StatementReader(Protocol):
    """What the import needs from a camt.053 reader (hub.adapters.camt.CamtReader)."""

    def read(self, stream: BinaryIO) -> Generator[StatementHeader | StatementEntry, None, None]:
        """For each statement of the document in `stream` (binary, read once, front to back),
        its header and then every entry of it, while parsing; a StatementError for any
        problem, naming the element and its line. The import closes it when it stops early
        (a refusal of its own), so that what it runs stops then."""
        ...

    def validate_schema(self, stream: BinaryIO, xsd_dir: Path, version: str) -> None:
        """Validate the document against `<xsd_dir>/camt.053.<version>.xsd`; the first
        error is a StatementError naming element and line."""
        ...
