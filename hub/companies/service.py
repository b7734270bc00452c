"""Companies: registration with a virtual top-up account, balances, manual adjustments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.access import STATEMENT_READ, Actor
from hub.audit.models import record_event
from hub.clock import Clock, utcnow
from hub.companies.models import Company
from hub.companies.statement import Statement, build_statement
from hub.db.database import Database
from hub.db.idempotency import once
from hub.errors import InvalidRequest, NotFound
from hub.ids import nip_valid, nrb_valid, virtual_account
from hub.ledger import Ledger
from hub.ledger.chart import ADJUSTMENTS, COMPANY, CONTROL, company_account
from hub.ledger.codes import TransferCode


@dataclass(frozen=True)
class CompanyAccount:
    nip: str
    name: str
    virtual_account: str | None  # None under an IBAN escrow account: top-ups by the NIP in the title
    available_grosze: int
    held_grosze: int
    posted_grosze: int


def topup_title(company_nip: str) -> str:
    """The transfer title a company tops its account up with: it names the NIP, which the
    statement import matches (hub.bank.statements), with or without a virtual account."""
    return f"Zasilenie konta NIP {company_nip}"


def title_matching_only(escrow_account: str) -> bool:
    """Whether companies are matched by the NIP in the transfer title only: virtual accounts
    are Polish (an NRB under the escrow's bank code), so an escrow kept as another country's
    IBAN has none."""
    return not nrb_valid(escrow_account)


def title_matching_note(escrow_account: str) -> str:
    return (
        f"the escrow account {escrow_account} is an IBAN, not a Polish NRB:"
        " companies get no virtual account, and their top-ups are matched"
        f' by the NIP in the transfer title only ("{topup_title("<NIP>")}")'
    )


def valid_nip(nip: str) -> str:
    nip = nip.replace("-", "").replace(" ", "")
    if not nip_valid(nip):
        raise InvalidRequest(f"NIP {nip!r} is not valid: 10 digits with a correct check digit")
    return nip


def find_company(session: Session, nip: str) -> Company:
    company = session.scalars(select(Company).where(Company.nip == nip)).one_or_none()
    if company is None:
        raise NotFound(f"no company with NIP {nip}")
    return company


@dataclass(frozen=True)
class Credited:
    """CompanyCredit's answer as its idempotency key keeps it: nothing but that it happened."""


class CompanyService:
    def __init__(self, db: Database, escrow_account: str, clock: Clock = utcnow) -> None:
        self.db = db
        self.escrow_account = escrow_account
        self.clock = clock

    def add(self, nip: str, name: str, *, actor: Actor) -> CompanyAccount:
        actor.require_operator("register companies")
        nip = valid_nip(nip)
        name = name.strip()
        if not name:
            raise InvalidRequest("a company needs a name")
        virtual = None if title_matching_only(self.escrow_account) else virtual_account(self.escrow_account, nip)
        try:
            with self.db.transaction() as session:
                now = self.clock()
                company = Company(nip=nip, name=name, virtual_account=virtual, created_at=now)
                session.add(company)
                session.flush()
                Ledger(session, self.clock).open_account(company_account(nip), COMPANY, no_overdraft=True)
                record_event(session, now, actor.name, "company.add", f"company:{nip}", name=name)
        except IntegrityError:
            raise InvalidRequest(f"a company with NIP {nip} is already registered") from None
        return self._account(nip)

    def account(self, nip: str, *, actor: Actor) -> CompanyAccount:
        """The company's balances, for anyone acting for it."""
        actor.require_scope(company_nip=nip)
        return self._account(nip)

    def _account(self, nip: str) -> CompanyAccount:
        nip = valid_nip(nip)
        with self.db.read() as session:
            return self._view(session, find_company(session, nip))

    def list(self, *, actor: Actor) -> list[CompanyAccount]:
        actor.require_operator("list every company")
        with self.db.read() as session:
            return [self._view(session, c) for c in session.scalars(select(Company).order_by(Company.nip))]

    def credit(
        self, nip: str, amount_grosze: int, reason: str, *, actor: Actor, request_id: str | None = None
    ) -> CompanyAccount:
        """A manual adjustment: positive credits the company, negative debits it
        (never below what is available). Kept in the audit trail with its reason."""
        actor.require_operator("adjust a company's balance")
        nip = valid_nip(nip)
        if amount_grosze == 0:
            raise InvalidRequest("an adjustment of 0.00 changes nothing")
        if not reason.strip():
            raise InvalidRequest("a manual adjustment needs a reason")
        request_id = request_id or str(uuid.uuid4())

        def work(session: Session) -> Credited:
            find_company(session, nip)
            ledger = Ledger(session, self.clock)
            ledger.open_account(ADJUSTMENTS, CONTROL)
            company = company_account(nip)
            debit, credit = (ADJUSTMENTS, company) if amount_grosze > 0 else (company, ADJUSTMENTS)
            ledger.transfer(
                f"adjust:{request_id}", debit, credit, abs(amount_grosze), TransferCode.ADJUSTMENT, reason.strip()[:200]
            )
            record_event(
                session,
                self.clock(),
                actor.name,
                "company.credit",
                f"company:{nip}",
                amount_grosze=amount_grosze,
                reason=reason.strip(),
            )
            return Credited()

        once(
            self.db,
            request_id,
            "CompanyCredit",
            {"nip": nip, "amount": amount_grosze, "reason": reason},
            work,
            self.clock(),
            Credited,
        )
        return self._account(nip)

    def statement(self, *, actor: Actor, nip: str, date_from: date, date_to: date) -> Statement:
        """What moved the company's available balance over [date_from, date_to], Warsaw
        business days, both inclusive (see hub.companies.statement)."""
        nip = valid_nip(nip)
        actor.require(STATEMENT_READ, company_nip=nip)
        with self.db.snapshot() as session:  # opening, entries and closing from one snapshot
            return build_statement(session, find_company(session, nip), date_from, date_to)

    def _view(self, session: Session, company: Company) -> CompanyAccount:
        balance = Ledger(session, self.clock).balance(company.ledger_code)
        return CompanyAccount(
            company.nip, company.name, company.virtual_account, balance.available, balance.held, balance.posted
        )
