"""What the SOAP couriers (bank, FK) share: a signed zeep client with explicit
timeouts and a hardened parser, and one classification of what went wrong.

WS-Security timestamps use the real clock, never the hub's business clock: the
peer checks freshness against its own wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import zeep
import zeep.exceptions
import zeep.helpers
from zeep.transports import Transport

from hub.outbox.service import Refused, Transient
from hub.signing.keys import SigningIdentity
from hub.signing.trust import TrustStore
from hub.signing.zeep_plugin import HubSignature

CONNECT_TIMEOUT_S = 10
ANSWER_TIMEOUT_S = 30
WSDL_TIMEOUT_S = 30


@dataclass(frozen=True)
class Peer:
    """A system the hub calls: its WSDL, optionally another address than the
    WSDL's, and the certificates its signed answers must carry."""

    name: str
    wsdl: str
    trust: TrustStore
    endpoint: str | None = None
    timeout_s: float = ANSWER_TIMEOUT_S


def client_for(peer: Peer, identity: SigningIdentity) -> Any:
    """A zeep service proxy for the peer's one service, signing as the hub."""
    session = requests.Session()
    session.trust_env = False  # no proxy or netrc from the environment for the bank
    transport = Transport(
        session=session, timeout=WSDL_TIMEOUT_S, operation_timeout=(CONNECT_TIMEOUT_S, peer.timeout_s)
    )
    # DTDs and entities forbidden; external references stay allowed: the WSDL imports its XSDs.
    settings = zeep.Settings(forbid_dtd=True, forbid_entities=True, strict=True)
    try:
        client = zeep.Client(peer.wsdl, wsse=HubSignature(identity, peer.trust), transport=transport, settings=settings)
    except (requests.RequestException, OSError) as error:
        raise Transient(f"{peer.name}: cannot load the WSDL {peer.wsdl}: {error}") from None
    if peer.endpoint is None:
        return client.service
    service = next(iter(client.wsdl.services.values()))
    port = next(iter(service.ports.values()))
    return client.create_service(port.binding.name, peer.endpoint)


def call(peer: Peer, operation: Callable[..., Any], **fields: Any) -> Any:
    """Call and classify: an answer (a dict of its elements; zeep unwraps an answer of
    one element into that element's value), Refused (a Client fault: the
    peer read the message and will never take it), or Transient (everything that
    may go better later: no connection, timeout, HTTP 5xx, a Server or security
    fault, an answer whose signature or content does not check)."""
    try:
        answer = operation(**fields)
    except zeep.exceptions.Fault as fault:
        code = (fault.code or "").rpartition(":")[2]
        if code.startswith("Client"):
            raise Refused(
                f"{peer.name} refused it: {code}: {fault.message}", {"Fault": code, "Message": fault.message}
            ) from None
        raise Transient(f"{peer.name} fault {fault.code}: {fault.message}") from None
    except requests.Timeout:
        raise Transient(f"{peer.name} did not answer within {peer.timeout_s:g} s") from None
    except requests.ConnectionError as error:
        raise Transient(f"{peer.name} unreachable: {_first_line(error)}") from None
    except zeep.exceptions.TransportError as error:
        raise Transient(f"{peer.name} answered HTTP {error.status_code}") from None
    except zeep.exceptions.SignatureVerificationFailed as error:
        raise Transient(f"{peer.name}'s answer failed the signature check: {error}") from None
    except (zeep.exceptions.Error, requests.RequestException) as error:
        raise Transient(f"{peer.name}: {type(error).__name__}: {_first_line(error)}") from None
    return zeep.helpers.serialize_object(answer, dict)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
