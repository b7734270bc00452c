"""Delivers settlements to the bank: SubmitTransfer (contract section 7). The bank
treats EndToEndId as idempotent, so a resend after a timeout or a lost answer gets
the first answer again and moves no money twice.

The wire (signed SOAP, the bank's certificate checked) is a `BankCourier` that
hub.app injects (hub.adapters.bank.BankSoap); this module decides what an answer
means for the settlement.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.orm import Session

from hub.outbox import Refused, Transient
from hub.outbox.models import OutboxRecord
from hub.settlement.models import TransferAnswer

KIND = "bank.transfer"
ACCEPTED, REJECTED = TransferAnswer.ACCEPTED, TransferAnswer.REJECTED


class BankCourier(Protocol):
    """The bank's SubmitTransfer: its answer's elements (BankReference, Status,
    RejectReason), or Refused / Transient (hub.outbox) when there is none to use."""

    def submit_transfer(self, timeout_s: float | None = None, **fields: Any) -> dict: ...


class BankTransfers:
    kind = KIND

    def __init__(
        self, courier: BankCourier, on_accepted: Callable, on_rejected: Callable, timeout_s: float | None = None
    ) -> None:
        self.courier = courier
        self._on_accepted = on_accepted
        self._on_rejected = on_rejected
        self.timeout_s = timeout_s

    def send(self, payload: dict) -> dict:
        answer = self.courier.submit_transfer(
            self.timeout_s,
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
            raise Refused(f"the bank rejected it: {result['RejectReason'] or 'no reason given'}", result)
        if result["Status"] != ACCEPTED:
            raise Transient(f"the bank answered an unknown Status {result['Status']!r}")
        return result

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        self._on_accepted(session, record.key, result["BankReference"])

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        self._on_rejected(session, record.key, refusal.reason, refusal.result.get("BankReference"))
