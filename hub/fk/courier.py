"""Delivers journals to an office's FK system: PostJournal over signed SOAP.

The FK system is idempotent on JournalId, so a resend after a lost answer is
safe. Its answers must be signed by a certificate of one of that office's own
systems in clients.toml (the config has no entry kind for FK systems).
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.fk.journal import Journal
from hub.money import to_decimal
from hub.outbox import Refused, Transient
from hub.outbox.models import OutboxRecord
from hub.outbox.soap import Peer, call, client_for
from hub.signing.keys import SigningIdentity
from hub.signing.trust import TrustStore

KIND = "fk.journal"


def fk_trust(config: HubConfig, office_code: str) -> TrustStore:
    return TrustStore.from_pem_files([c for c in config.clients if office_code in c.offices])


class FkJournals:
    kind = KIND

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self._services: dict[str, object] = {}

    @cached_property
    def identity(self) -> SigningIdentity:
        return SigningIdentity.load(self.config.signing.key, self.config.signing.cert)

    def send(self, payload: dict) -> dict:
        journal = Journal.from_dict(payload)
        office = self.config.office(journal.office_code)
        if not office.fk_wsdl:
            raise Refused(f"office {office.code} has no fk_wsdl in offices.toml any more")
        peer = Peer(
            f"FK system of office {office.code}", office.fk_wsdl, fk_trust(self.config, office.code)
        )
        if not peer.trust.clients:
            raise Transient(
                f"clients.toml lists no certificate of office {office.code} to check its FK system's answers"
            )
        if office.code not in self._services:
            self._services[office.code] = client_for(peer, self.identity)
        lines = [
            {
                "Account": l.account,
                "Debit": to_decimal(l.debit_grosze),
                "Credit": to_decimal(l.credit_grosze),
                "Description": l.description,
                "Reference": l.reference,
            }
            for l in journal.lines
        ]
        answer = call(
            peer,
            self._services[office.code].PostJournal,
            JournalId=journal.journal_id,
            OfficeCode=journal.office_code,
            Date=journal.day,
            Line=lines,
        )
        accepted = (
            answer.get("Accepted") if isinstance(answer, dict) else answer
        )  # zeep unwraps a lone element
        if accepted is not True:
            raise Refused(
                f"the FK system of office {office.code} did not accept journal {journal.journal_id}",
                {"Accepted": False},
            )
        return {"Accepted": True}

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        """Nothing else to record: the outbox record is the journal's delivery."""

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        """Kept as a REJECTED outbox record; `hub fk export` still makes the files."""
