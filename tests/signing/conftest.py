"""Shared fixtures for hub.signing: a small PKI written as PEM files.

Keys are made once per session (an RSA key costs tens of milliseconds).
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from hub.signing import TrustStore, devcerts
from tests.support.signing import KIEROWCA_DN, NOW, client_entry, party


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> SimpleNamespace:
    """Every key and certificate the tests use, as identities and PEM files."""
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = devcerts.make_ca("Hub Test CA")
    _, ca_path = devcerts.write_pem(d, "ca", ca_key, ca_cert)
    forger_key, forger_cert = devcerts.make_ca("Hub Test CA")  # same name, other key
    yesterday = NOW - timedelta(days=1)
    return SimpleNamespace(
        dir=d,
        ca_cert=ca_cert,
        ca_path=ca_path,
        hub=party(d, "hub", *devcerts.self_signed("Hub")),
        pojazd=party(d, "pojazd", *devcerts.self_signed("Pojazd 1465")),
        word_ec=party(d, "word", *devcerts.self_signed("WORD Warszawa", key_type="ec")),
        legacy=party(d, "legacy", *devcerts.self_signed("Legacy SHA1")),
        kierowca=party(d, "kierowca", *devcerts.issue_cert(ca_key, ca_cert, KIEROWCA_DN)),
        wrong_subject=party(d, "wrong", *devcerts.issue_cert(ca_key, ca_cert, "CN=Kierowca 9999,O=Inny,C=PL")),
        forged=party(d, "forged", *devcerts.issue_cert(forger_key, forger_cert, KIEROWCA_DN)),
        expired=party(
            d, "expired", *devcerts.self_signed("Old Desk", not_before=NOW - timedelta(days=400), not_after=yesterday)
        ),
        stranger=party(d, "stranger", *devcerts.self_signed("Stranger")),
    )


@pytest.fixture(scope="session")
def trust(pki) -> TrustStore:
    return TrustStore.from_pem_files(
        [
            client_entry("pojazd", "POJAZD", cert=pki.pojazd.cert_path, offices=("1465",)),
            client_entry("word", "WORD", cert=pki.word_ec.cert_path, offices=("1465",)),
            client_entry("legacy", "CASHDESK", cert=pki.legacy.cert_path, offices=("1261",), allow_sha1=True),
            client_entry("kierowca", "KIEROWCA", ca=pki.ca_path, subject=KIEROWCA_DN, offices=("1261",)),
            client_entry("old-desk", "CASHDESK", cert=pki.expired.cert_path, offices=("1261",)),
        ]
    )
