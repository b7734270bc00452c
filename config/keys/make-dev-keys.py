"""Regenerate the DEV-ONLY keys and certificates in this folder.

    .venv/bin/python config/keys/make-dev-keys.py

Writes, next to this script:
- hub.key, hub.crt: the hub's signing key, RSA-2048, self-signed, CN=hub.example;
- dev-ca.key, dev-ca.crt: a development CA;
- <client>.key, <client>.crt for each client in ../clients.toml, issued by the dev CA.

All certificates are valid for 10 years from today. The private keys are not
encrypted and are published in the repository: never use them outside
development and tests. Rerunning replaces every file, so certificates pinned
elsewhere must then be copied again.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.signing import devcerts  # the tests' certificates are built the same way

KEYS_DIR = Path(__file__).resolve().parent
VALIDITY = datetime.timedelta(days=3652)
RSA_KEY_BITS = 2048
ORGANIZATION = "Hub Dev Clients"

# One key and certificate per client in ../clients.toml; the file name is the client id.
CLIENT_IDS = (
    "pojazd-1465",
    "pojazd-1261",
    "kierowca-1465",
    "kierowca-3064",
    "word-warszawa",
    "kasa-1465-01",
    "leasing-7010254361",
    "bank-escrow",
)


def _name(common_name: str, organization: str) -> x509.Name:
    # Written C, O, CN so that rfc4514_string() reads "CN=...,O=...,C=PL".
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def _certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    is_ca: bool,
    usages: list[x509.ObjectIdentifier],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        devcerts.certificate_builder(subject, issuer, public_key, now - datetime.timedelta(days=1), now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(devcerts.key_usage(cert_sign=is_ca), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(private_key=issuer_key, algorithm=hashes.SHA256())


def _write(stem: str, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
    key_path = KEYS_DIR / f"{stem}.key"
    key_path.write_bytes(
        key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    (KEYS_DIR / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    print(f"wrote {stem}.key, {stem}.crt  ({cert.subject.rfc4514_string()})")


def main() -> None:
    hub_key = _new_key()
    hub_name = _name("hub.example", "Hub Dev")
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    hub_cert = _certificate(hub_name, hub_key.public_key(), hub_name, hub_key, is_ca=False, usages=usages)
    _write("hub", hub_key, hub_cert)

    ca_key = _new_key()
    ca_name = _name("Hub Dev CA", "Hub Dev")
    ca_cert = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, is_ca=True, usages=[])
    _write("dev-ca", ca_key, ca_cert)

    for client_id in CLIENT_IDS:
        key = _new_key()
        subject = _name(client_id, ORGANIZATION)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        cert = _certificate(subject, key.public_key(), ca_name, ca_key, is_ca=False, usages=usages)
        _write(client_id, key, cert)


if __name__ == "__main__":
    main()
