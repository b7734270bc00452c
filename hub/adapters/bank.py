"""The bank's SubmitTransfer over signed SOAP (hub.settlement.bank.BankCourier).

The bank's answers must carry the certificate of the BANK client in clients.toml.
One zeep client per answer timeout, built on first use (a `hub bank send --timeout`
gets its own)."""

from __future__ import annotations

from typing import Any

from hub.adapters.soap import Peer, call, client_for
from hub.outbox import Transient
from hub.signing.keys import SigningIdentity
from hub.signing.trust import TrustStore


class BankSoap:
    def __init__(self, wsdl: str, endpoint: str | None, trust: TrustStore, identity: SigningIdentity) -> None:
        self.wsdl, self.endpoint, self.trust, self.identity = wsdl, endpoint, trust, identity
        self._services: dict[float | None, Any] = {}

    def peer(self, timeout_s: float | None = None) -> Peer:
        extra = {"timeout_s": timeout_s} if timeout_s else {}
        return Peer("the bank", self.wsdl, self.trust, self.endpoint, **extra)

    def submit_transfer(self, timeout_s: float | None = None, **fields: Any) -> dict:
        peer = self.peer(timeout_s)
        return call(peer, self._service(peer, timeout_s).SubmitTransfer, **fields)

    def _service(self, peer: Peer, timeout_s: float | None) -> Any:
        if not self.trust.clients:
            raise Transient("clients.toml lists no BANK client whose certificate would check the bank's answers")
        if timeout_s not in self._services:
            self._services[timeout_s] = client_for(peer, self.identity)
        return self._services[timeout_s]
