"""PostJournal to an office's FK system over signed SOAP (hub.fk.courier.FkCourier).

Its answers must be signed by a certificate of one of that office's own systems in
clients.toml (the config has no entry kind for FK systems). One zeep client per
office, built on first use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.adapters.soap import Peer, call, client_for
from hub.config import Client, Office
from hub.fk.journal import Journal
from hub.money import to_decimal
from hub.outbox import Transient
from hub.signing.keys import SigningIdentity
from hub.signing.trust import TrustStore


def fk_trust(clients: Sequence[Client], office_code: str) -> TrustStore:
    return TrustStore.from_pem_files([c for c in clients if office_code in c.offices])


class FkSoap:
    def __init__(self, clients: Sequence[Client], identity: SigningIdentity) -> None:
        self.clients = clients
        self.identity = identity
        self._services: dict[str, Any] = {}

    def post_journal(self, office: Office, journal: Journal) -> bool:
        assert office.fk_wsdl  # hub.fk.courier.FkJournals sends only to an office with one
        peer = Peer(f"FK system of office {office.code}", office.fk_wsdl, fk_trust(self.clients, office.code))
        if not peer.trust.clients:
            raise Transient(
                f"clients.toml lists no certificate of office {office.code} to check its FK system's answers"
            )
        if office.code not in self._services:
            self._services[office.code] = client_for(peer, self.identity)
        lines = [
            {
                "Account": line.account,
                "Debit": to_decimal(line.debit_grosze),
                "Credit": to_decimal(line.credit_grosze),
                "Description": line.description,
                "Reference": line.reference,
            }
            for line in journal.lines
        ]
        answer = call(
            peer,
            self._services[office.code].PostJournal,
            JournalId=journal.journal_id,
            OfficeCode=journal.office_code,
            Date=journal.day,
            Line=lines,
        )
        accepted = answer.get("Accepted") if isinstance(answer, dict) else answer  # zeep unwraps a lone element
        return accepted is True
