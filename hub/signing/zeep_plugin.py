"""A zeep wsse plugin for the systems the hub calls (bank, FK): same profile both ways.

zeep's own BinarySignature signs with RSA-SHA1 unless told otherwise, adds no Timestamp, verifies
answers with the client's OWN certificate and accepts signature wrapping. `HubSignature` signs
with `sign_envelope` and verifies answers with `verify_envelope` against the PEER's certificate.

zeep then reads the Body of the document it parsed, not `VerifiedRequest.body`. That is safe
because verify_envelope has checked that this Body is the only one and that its exclusive c14n
is byte for byte what was signed, and zeep's parser drops comments (the one kind of node
exclusive c14n leaves out, as in `1<!---->00`). Swapping in the re-parsed signed Body would lose
namespace declarations used only inside values (xsi:type="ns1:T"), which exclusive c14n omits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from lxml import etree
from zeep.exceptions import SignatureVerificationFailed

from hub.signing.faults import SecurityFault
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.sign import sign_envelope
from hub.signing.trust import TrustedClient, TrustStore
from hub.signing.verify import MemoryReplayCache, ReplayCache, verify_envelope


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HubSignature:
    """zeep `wsse=` plugin: `apply(envelope, headers)` signs, `verify(envelope)` checks answers."""

    def __init__(
        self,
        identity: SigningIdentity,
        peer: TrustStore,
        *,
        policy: SignaturePolicy | None = None,
        replay: ReplayCache | None = None,
        ttl_s: int = 300,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.identity = identity
        self.peer = peer
        self.policy = policy or SignaturePolicy()
        self.replay = replay if replay is not None else MemoryReplayCache(clock)
        self.ttl_s = ttl_s
        self.clock = clock

    @classmethod
    def pinned(
        cls,
        identity: SigningIdentity,
        peer_cert: x509.Certificate | Sequence[x509.Certificate],
        peer_id: str,
        **options: Any,
    ) -> HubSignature:
        """The usual case: the peer (bank, FK system, the hub) is known by its certificate, or,
        while it rotates its key, by either of two (answers signed with the old or the new)."""
        certs = [peer_cert] if isinstance(peer_cert, x509.Certificate) else list(peer_cert)
        peer = TrustStore([TrustedClient(id=peer_id, kind="PEER", cert=certs[0], rotation_certs=tuple(certs[1:]))])
        return cls(identity, peer, **options)

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        sign_envelope(envelope, self.identity, ttl_s=self.ttl_s, now=self.clock())
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        try:
            verify_envelope(envelope, self.peer, self.policy, self.replay, self.clock())
        except SecurityFault as fault:
            raise SignatureVerificationFailed(  # type: ignore[no-untyped-call]  # zeep is untyped
                f"{fault.code}: {fault.message}"
            ) from fault
        return envelope
