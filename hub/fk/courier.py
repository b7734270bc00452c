"""Delivers journals to an office's FK system: PostJournal.

The FK system is idempotent on JournalId, so a resend after a lost answer is
safe. The wire (signed SOAP, the answers checked against that office's own
systems' certificates in clients.toml) is an `FkCourier` that hub.app injects
(hub.adapters.fk.FkSoap).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from hub.config import Office
from hub.fk.journal import Journal
from hub.outbox import Refused
from hub.outbox.models import OutboxRecord

KIND = "fk.journal"


class FkCourier(Protocol):
    """PostJournal to the office's FK system: whether it was accepted, or Refused /
    Transient (hub.outbox) when there is no answer to use."""

    def post_journal(self, office: Office, journal: Journal) -> bool: ...


class FkJournals:
    kind = KIND

    def __init__(self, courier: FkCourier, office: Callable[[str], Office]) -> None:
        """`office(code)`: the office of offices.toml (hub.config.ByCode.known)."""
        self.courier = courier
        self.office = office

    def send(self, payload: dict) -> dict:
        journal = Journal.from_dict(payload)
        office = self.office(journal.office_code)
        if not office.fk_wsdl:
            raise Refused(f"office {office.code} has no fk_wsdl in offices.toml any more")
        if not self.courier.post_journal(office, journal):
            raise Refused(
                f"the FK system of office {office.code} did not accept journal {journal.journal_id}",
                {"Accepted": False},
            )
        return {"Accepted": True}

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        """Nothing else to record: the outbox record is the journal's delivery."""

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        """Kept as a REJECTED outbox record; `hub fk export` still makes the files."""
