"""Development keys and certificates: for tests (expired, wrong, CA-issued) and for `hub demo`.

Never for production: keys are written unencrypted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from hub.signing.keys import PrivateKey

RSA_BITS = 2048


def new_key(key_type: str = "rsa") -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key_type must be 'rsa' or 'ec', not {key_type!r}")


def make_ca(cn: str, *, days: int = 3650, key_type: str = "rsa") -> tuple[PrivateKey, x509.Certificate]:
    key = new_key(key_type)
    name = _name(cn)
    not_before, not_after = _validity(days, None, None)
    builder = (
        certificate_builder(name, name, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
    )
    return key, builder.sign(key, hashes.SHA256())


def issue_cert(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject: str,
    days: int = 365,
    key_type: str = "rsa",
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A leaf certificate signed by the CA; `subject` is an RFC 4514 DN or a bare common name."""
    key = new_key(key_type)
    start, end = _validity(days, not_before, not_after)
    builder = _leaf(certificate_builder(_name(subject), ca_cert.subject, key.public_key(), start, end))
    return key, builder.sign(ca_key, hashes.SHA256())


def self_signed(
    cn: str,
    days: int = 365,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_type: str = "rsa",
) -> tuple[PrivateKey, x509.Certificate]:
    """A pinned-style certificate, for clients configured with `cert`."""
    key = new_key(key_type)
    name = _name(cn)
    start, end = _validity(days, not_before, not_after)
    return key, _leaf(certificate_builder(name, name, key.public_key(), start, end)).sign(key, hashes.SHA256())


def write_pem(directory: Path, stem: str, key: PrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    """Write `<stem>.key` (PKCS#8, unencrypted, mode 0600) and `<stem>.pem`; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _name(subject: str) -> x509.Name:
    if "=" in subject:
        return x509.Name.from_rfc4514_string(subject)
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])


def _validity(days: int, not_before: datetime | None, not_after: datetime | None) -> tuple[datetime, datetime]:
    # Backdated a day: a certificate made now must verify on a machine whose clock is
    # behind, and in a test whose fixed "now" was taken before the certificate was made.
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    return start, not_after or start + timedelta(days=days)


def certificate_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: CertificatePublicKeyTypes,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """A certificate with a random serial, not yet extended or signed (also config/keys/make-dev-keys.py's)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _leaf(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    return builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True).add_extension(
        key_usage(cert_sign=False), critical=True
    )


def key_usage(cert_sign: bool) -> x509.KeyUsage:
    """A CA's key signs certificates and CRLs; a leaf's key signs messages, nothing else."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
