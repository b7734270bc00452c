"""Helpers for the hub.signing tests: envelopes, sign and verify shortcuts, paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from hub import ns
from hub.signing import (
    MemoryReplayCache,
    SignaturePolicy,
    SigningIdentity,
    TrustStore,
    devcerts,
    sign_envelope,
    verify_envelope,
)
from hub.xmlsafe import parse_xml

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ECHO = "urn:test:echo"
KIEROWCA_DN = "CN=Kierowca 1261,O=Urzad Miasta Krakowa,C=PL"
BYTES_MAX = 1_000_000
DEPTH_MAX = 64
NSMAP = {"soap": ns.SOAP_ENV_11, "wsse": ns.WSSE, "wsu": ns.WSU, "ds": ns.DS, "e": ECHO}


def require_tool(available: bool, what: str) -> None:
    """Skip when a tool is missing on a developer's machine; in CI (CI=true) that is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@dataclass(frozen=True)
class Party:
    """Someone who signs: the identity, and its key and certificate as PEM files."""

    identity: SigningIdentity
    key_path: Path
    cert_path: Path


def party(directory: Path, stem: str, key, cert) -> Party:
    key_path, cert_path = devcerts.write_pem(directory, stem, key, cert)
    return Party(SigningIdentity(key, cert), key_path, cert_path)


def client_entry(id, kind, cert=None, ca=None, subject=None, offices=(), company_nip=None, allow_sha1=False):
    """The duck-typed shape of a config Client, as the config layer will pass it."""
    return SimpleNamespace(
        id=id, kind=kind, cert=cert, ca=ca, subject=subject, offices=offices,
        company_nip=company_nip, allow_sha1=allow_sha1,
    )  # fmt: skip


def envelope(text: str = "hi", amount: str = "100.00", header: bool = False) -> etree._Element:
    """An unsigned request envelope, as a client builds it."""
    head = "<soap:Header/>" if header else ""
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}">{head}<soap:Body>'
        f'<e:EchoRequest xmlns:e="{ECHO}"><e:Text>{text}</e:Text><e:Amount>{amount}</e:Amount></e:EchoRequest>'
        "</soap:Body></soap:Envelope>"
    )


def signed(party: Party, now: datetime = NOW, unsigned: etree._Element | None = None, **options) -> etree._Element:
    """A signed envelope, re-parsed from its bytes as the receiver would get it."""
    return reparse(sign_envelope(unsigned if unsigned is not None else envelope(), party.identity, now=now, **options))


def reparse(element: etree._Element) -> etree._Element:
    return parse_xml(etree.tostring(element), bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)


def verify(element: etree._Element, trust: TrustStore, now: datetime = NOW, replay=None, policy=None):
    """verify_envelope on the element's bytes, with a fresh replay cache unless one is given."""
    return verify_envelope(
        reparse(element), trust, policy or SignaturePolicy(), replay or MemoryReplayCache(lambda: now), now
    )


def refused(message, trust, fault, fragment, **options):
    """Assert verify() raises exactly `fault` with `fragment` in its message."""
    with pytest.raises(fault) as caught:
        verify(message, trust, **options)
    assert type(caught.value) is fault
    assert fragment in caught.value.message, caught.value.message
    return caught.value


def find(element: etree._Element, path: str) -> etree._Element:
    """One element by a path with the prefixes of NSMAP."""
    found = element.find(path, NSMAP)
    assert found is not None, path
    return found

