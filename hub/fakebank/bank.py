"""The fake bank's books: transfers out of the escrow account (idempotent by
EndToEndId), credits into it, and how it behaves right now (its mode).

Modes, switchable at run time (`/control?mode=...`):

    ok      answers at once
    down    every SOAP call gets HTTP 503, nothing is booked
    slow    books the transfer, then sleeps `seconds` before answering
    reject  answers REJECTED with `reason` (a new EndToEndId only: a known one
            gets its first answer again, as a real bank would)
    twice   books the transfer and loses the answer (HTTP 502), so the caller
            delivers it twice; the second delivery gets the first answer
    fault   answers a soap:Client.InvalidRequest fault (with `reason`), books nothing
    error   answers a soap:Server fault, books nothing

Refusing connections is the test stopping the listener (`FakeServer.stop()`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time

from hub.errors import InvalidRequest
from hub.fakebank.camt import CREDIT, DEBIT, StatementEntry, statement_xml
from hub.ids import iban_valid, normalize_account, nrb_valid
from hub.money import format_pln
from hub.settlement.models import TransferAnswer

MODES = ("ok", "down", "slow", "reject", "twice", "fault", "error")
ACCEPTED, REJECTED = TransferAnswer.ACCEPTED, TransferAnswer.REJECTED


@dataclass
class Transfer:
    end_to_end_id: str
    debtor_account: str
    creditor_account: str
    creditor_name: str
    amount_grosze: int
    title: str
    requested_date: date
    status: str
    bank_reference: str
    reject_reason: str | None
    deliveries: int = 1  # how many times the hub delivered it; booked once whatever this is

    def as_json(self) -> dict:
        data = asdict(self)
        data["amount"] = format_pln(data.pop("amount_grosze"))
        data["requested_date"] = self.requested_date.isoformat()
        return data


@dataclass(frozen=True)
class Credit:
    account: str  # the account the payer credited: the escrow or a company's virtual account
    amount_grosze: int
    text: str
    booked_on: date
    reference: str
    payer_name: str = "Wpłacający"
    payer_account: str | None = None
    returns: str | None = None  # a transfer's EndToEndId: the money came back (a reversed debit)


@dataclass
class Mode:
    name: str = "ok"
    seconds: float = 0.0
    reason: str = "Rachunek odbiorcy zamknięty"


@dataclass
class FakeBank:
    escrow_account: str
    currency: str = "PLN"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    credits: list[Credit] = field(default_factory=list)
    mode: Mode = field(default_factory=Mode)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counter: int = 0

    def set_mode(self, name: str, seconds: float = 0.0, reason: str | None = None) -> Mode:
        if name not in MODES:
            raise ValueError(f"unknown mode {name!r}: one of {', '.join(MODES)}")
        with self._lock:
            self.mode = Mode(name, seconds, reason or Mode.reason)
            return self.mode

    def submit(
        self, e2e: str, debtor: str, creditor: str, name: str, amount_grosze: int, title: str, requested: date
    ) -> Transfer:
        """Book a transfer once; the same EndToEndId again gets the first answer."""
        with self._lock:
            known = self.transfers.get(e2e)
            if known is not None:
                known.deliveries += 1
                return known
            if self.mode.name == "fault":
                raise InvalidRequest(self.mode.reason)
            if self.mode.name == "error":
                raise RuntimeError("the fake bank's core system failed (mode error)")
            reason = self._refusal(debtor, creditor)
            self._counter += 1
            transfer = Transfer(
                e2e,
                debtor,
                creditor,
                name,
                amount_grosze,
                title,
                requested,
                REJECTED if reason else ACCEPTED,
                f"FB{self._counter:010d}",
                reason,
            )
            self.transfers[e2e] = transfer
            return transfer

    def _refusal(self, debtor: str, creditor: str) -> str | None:
        if self.mode.name == "reject":
            return self.mode.reason
        if normalize_account(debtor) != normalize_account(self.escrow_account):
            return "Rachunek obciążany nie jest prowadzony w tym banku"
        if not (nrb_valid(creditor) or iban_valid(creditor)):
            return "Nieprawidłowy numer rachunku odbiorcy"
        return None

    def add_credit(
        self, account: str, amount_grosze: int, text: str, booked_on: date | None = None, payer_name: str | None = None
    ) -> Credit:
        with self._lock:
            self._counter += 1
            credit = Credit(
                normalize_account(account),
                amount_grosze,
                text,
                booked_on or self.clock().date(),
                f"FB{self._counter:010d}",
                payer_name or "Wpłacający",
            )
            self.credits.append(credit)
            return credit

    def return_transfer(self, e2e: str, text: str, booked_on: date | None = None) -> Credit:
        """The creditor's bank sent an accepted transfer back: a reversal credit with its EndToEndId."""
        with self._lock:
            transfer = self.transfers.get(e2e)
            if transfer is None or transfer.status != ACCEPTED:
                raise ValueError(f"no accepted transfer {e2e} to return")
            self._counter += 1
            credit = Credit(
                normalize_account(self.escrow_account),
                transfer.amount_grosze,
                text,
                booked_on or self.clock().date(),
                f"FB{self._counter:010d}",
                transfer.creditor_name,
                transfer.creditor_account,
                returns=e2e,
            )
            self.credits.append(credit)
            return credit

    def entries(self, day: date | None = None) -> list[StatementEntry]:
        """Booked entries, in booking order: accepted transfers as debits, credits as credits."""
        with self._lock:
            entries = [
                StatementEntry(
                    t.requested_date,
                    DEBIT,
                    t.amount_grosze,
                    t.bank_reference,
                    t.end_to_end_id,
                    t.creditor_name,
                    t.creditor_account,
                    t.title,
                )
                for t in self.transfers.values()
                if t.status == ACCEPTED
            ] + [
                StatementEntry(
                    c.booked_on,
                    CREDIT,
                    c.amount_grosze,
                    c.reference,
                    c.returns,
                    c.payer_name,
                    c.payer_account,
                    c.text,
                    via_account=None if c.returns else c.account,
                    reversal=c.returns is not None,
                )
                for c in self.credits
            ]
        entries.sort(key=lambda e: (e.booked_on, e.reference))
        return [e for e in entries if day is None or e.booked_on == day]

    def statement(self, day: date | None = None) -> bytes:
        """camt.053.001.08 of the escrow account: the day's entries (all of them
        without a day), with the opening balance of the entries before."""
        every = self.entries()
        before = [e for e in every if day is not None and e.booked_on < day]
        opening = sum(e.amount_grosze if e.credit_debit == CREDIT else -e.amount_grosze for e in before)
        now = self.clock()
        # A bank makes a day's statement once the day is over: its CreDtTm is the day's end, the
        # same whenever it is fetched, so a day fetched late still sorts before the days after it
        # (the hub orders statements without an ElctrncSeqNb by it). A day not over yet, or
        # every entry, is as of now.
        created = now if day is None or day >= now.date() else datetime.combine(day, time(23, 59, 59), UTC)
        shown = self.entries(day)
        # The same day and entries give the same id: fetching a statement twice is one statement.
        statement_id = f"FBSTMT-{day:%Y%m%d}-{len(shown)}" if day else f"FBSTMT-ALL-{len(shown)}"
        return statement_xml(
            self.escrow_account, self.currency, shown, opening, statement_id, created, day or now.date()
        )
