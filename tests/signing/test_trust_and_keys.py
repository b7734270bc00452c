"""TrustStore built from config entries, SigningIdentity loading, and the dev certificate helpers."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from hub.errors import ConfigError
from hub.signing import FailedAuthentication, InvalidSecurityToken, SigningIdentity, TrustedClient, TrustStore, devcerts
from tests.support.signing import KIEROWCA_DN, NOW, client_entry

# --- TrustStore ---------------------------------------------------------------------------------


def test_identify_pinned_and_ca_issued_clients(pki, trust):
    assert trust.identify(pki.pojazd.identity.cert, NOW).id == "pojazd"
    kierowca = trust.identify(pki.kierowca.identity.cert, NOW)
    assert (kierowca.id, kierowca.kind, kierowca.offices) == ("kierowca", "KIEROWCA", ("1261",))


def test_clients_keep_their_config_fields(trust):
    legacy = next(c for c in trust.clients if c.id == "legacy")
    assert (legacy.kind, legacy.allow_sha1, legacy.company_nip) == ("CASHDESK", True, None)
    assert len(trust.clients) == 5


def test_unknown_certificate_is_failed_authentication(pki, trust):
    with pytest.raises(FailedAuthentication, match="subject CN=Stranger"):
        trust.identify(pki.stranger.identity.cert, NOW)


def test_expired_ca_makes_its_certificates_invalid(pki, tmp_path):
    ca_key, ca_cert = devcerts.make_ca("Short CA")
    _, ca_path = devcerts.write_pem(tmp_path, "short-ca", ca_key, ca_cert)
    _, leaf = devcerts.issue_cert(ca_key, ca_cert, KIEROWCA_DN, days=9999)
    store = TrustStore.from_pem_files([client_entry("k", "KIEROWCA", ca=ca_path, subject=KIEROWCA_DN)])
    with pytest.raises(InvalidSecurityToken, match="CA that issued"):
        store.identify(leaf, ca_cert.not_valid_after_utc + timedelta(days=1))


def test_naive_time_is_a_programming_error(pki, trust):
    with pytest.raises(ValueError, match="timezone-aware"):
        trust.identify(pki.pojazd.identity.cert, NOW.replace(tzinfo=None))


def test_missing_certificate_file_names_client_and_path(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=f"client pojazd: cannot read certificate {missing}"):
        TrustStore.from_pem_files([client_entry("pojazd", "POJAZD", cert=missing)])


def test_cert_and_ca_together_are_a_config_error(pki):
    entry = client_entry("x", "POJAZD", cert=pki.pojazd.cert_path, ca=pki.ca_path, subject=KIEROWCA_DN)
    with pytest.raises(ConfigError, match="client x: give either cert, or ca together with subject"):
        TrustStore.from_pem_files([entry])


def test_ca_without_subject_is_a_config_error(pki):
    with pytest.raises(ConfigError, match="ca together with subject"):
        TrustStore.from_pem_files([client_entry("x", "KIEROWCA", ca=pki.ca_path)])


def test_malformed_subject_is_a_config_error(pki):
    with pytest.raises(ConfigError, match="not an RFC 4514 DN"):
        TrustStore.from_pem_files([client_entry("x", "KIEROWCA", ca=pki.ca_path, subject="Kierowca, Krakow")])


def test_two_clients_pinning_one_certificate_are_a_config_error(pki):
    entries = [client_entry(i, "POJAZD", cert=pki.pojazd.cert_path) for i in ("a", "b")]
    with pytest.raises(ConfigError, match="clients a and b pin the same certificate"):
        TrustStore.from_pem_files(entries)


def test_trusted_client_is_frozen(pki):
    client = TrustedClient(id="a", kind="POJAZD", cert=pki.pojazd.identity.cert)
    with pytest.raises(AttributeError):
        client.id = "b"  # type: ignore[misc]


# --- SigningIdentity ----------------------------------------------------------------------------


def test_identity_is_loaded_once_per_process(pki):
    first = SigningIdentity.load(pki.hub.key_path, pki.hub.cert_path)
    assert SigningIdentity.load(str(pki.hub.key_path), pki.hub.cert_path) is first
    assert first.cert_der == pki.hub.identity.cert_der
    assert first.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert first.signature_method == "rsa-sha256"


def test_ec_identity_signs_with_ecdsa(pki):
    assert SigningIdentity.load(pki.word_ec.key_path, pki.word_ec.cert_path).signature_method == "ecdsa-sha256"


def test_key_of_another_certificate_is_a_config_error(pki):
    with pytest.raises(ConfigError, match="does not belong to the certificate"):
        SigningIdentity.load(pki.hub.key_path, pki.pojazd.cert_path)


def test_missing_key_file_is_a_config_error(pki, tmp_path):
    with pytest.raises(ConfigError, match="signing key"):
        SigningIdentity.load(tmp_path / "missing.key", pki.hub.cert_path)


# --- devcerts -----------------------------------------------------------------------------------


def test_ca_issues_certificates_it_verifies(pki):
    leaf = pki.kierowca.identity.cert
    leaf.verify_directly_issued_by(pki.ca_cert)
    assert leaf.subject.rfc4514_string() == KIEROWCA_DN
    assert pki.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_self_signed_with_explicit_dates_and_ec_key():
    ended = NOW - timedelta(days=1)
    key, cert = devcerts.self_signed("Desk", not_before=ended - timedelta(days=1), not_after=ended, key_type="ec")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert.not_valid_after_utc == ended


def test_write_pem_keeps_the_key_private(tmp_path):
    key_path, cert_path = devcerts.write_pem(tmp_path, "desk", *devcerts.self_signed("Desk", key_type="ec"))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()).subject.rfc4514_string() == "CN=Desk"


def test_unknown_key_type_is_refused():
    with pytest.raises(ValueError, match="key_type"):
        devcerts.new_key("dsa")
