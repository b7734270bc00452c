"""Delivers settlements to the bank: SubmitTransfer over signed SOAP (contract
section 7). The bank treats EndToEndId as idempotent, so a resend after a
timeout or a lost answer gets the first answer again and moves no money twice.

The bank's answers must carry the certificate of the BANK client in clients.toml.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cached_property

from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.outbox import Refused, Transient
from hub.outbox.models import OutboxRecord
from hub.outbox.soap import Peer, call, client_for
from hub.settlement.models import TransferAnswer
from hub.signing.keys import SigningIdentity
from hub.signing.trust import TrustStore

KIND = "bank.transfer"
ACCEPTED, REJECTED = TransferAnswer.ACCEPTED, TransferAnswer.REJECTED


class BankTransfers:
    kind = KIND

    def __init__(
        self,
        config: HubConfig,
        on_accepted: Callable,
        on_rejected: Callable,
        timeout_s: float | None = None,
    ) -> None:
        self.config = config
        self._on_accepted = on_accepted
        self._on_rejected = on_rejected
        self.peer = Peer(
            "the bank",
            config.bank.wsdl,
            TrustStore.from_pem_files([c for c in config.clients if c.kind == "BANK"]),
            config.bank.endpoint,
            **({"timeout_s": timeout_s} if timeout_s else {}),
        )

    @cached_property
    def service(self):
        if not self.peer.trust.clients:
            raise Transient(
                "clients.toml lists no BANK client whose certificate would check the bank's answers"
            )
        return client_for(
            self.peer, SigningIdentity.load(self.config.signing.key, self.config.signing.cert)
        )

    def send(self, payload: dict) -> dict:
        answer = call(
            self.peer,
            self.service.SubmitTransfer,
            EndToEndId=payload["end_to_end_id"],
            DebtorAccount=payload["debtor_account"],
            CreditorAccount=payload["creditor_account"],
            CreditorName=payload["creditor_name"],
            Amount=Decimal(payload["amount"]),
            Title=payload["title"],
            RequestedDate=date.fromisoformat(payload["requested_date"]),
        )
        result = {
            "BankReference": answer["BankReference"],
            "Status": answer["Status"],
            "RejectReason": answer.get("RejectReason"),
        }
        if result["Status"] == REJECTED:
            raise Refused(
                f"the bank rejected it: {result['RejectReason'] or 'no reason given'}", result
            )
        if result["Status"] != ACCEPTED:
            raise Transient(f"the bank answered an unknown Status {result['Status']!r}")
        return result

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        self._on_accepted(session, record.key, result["BankReference"])

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        self._on_rejected(session, record.key, refusal.reason, refusal.result.get("BankReference"))
