"""The key and certificate a process signs with, loaded once.

Loading an RSA private key from PEM costs ~30-50 ms (RSA's consistency check), more than signing
a message, so `private_key_from_pem` checks each key once per process (the config's check and the
signing identity share it), and `SigningIdentity.load` keeps one identity per (key path, cert
path) for the life of the process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.errors import ConfigError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class NotASigningKey(ValueError):
    """A private key of a kind the profile cannot sign with (neither RSA nor EC)."""


@dataclass(frozen=True)
class SigningIdentity:
    private_key: PrivateKey
    cert: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ValueError("only RSA and EC keys can sign (RSA-SHA256, ECDSA-SHA256)")
        if self.private_key.public_key() != self.cert.public_key():
            raise ValueError("the private key does not belong to the certificate")

    @functools.cached_property  # in every signed message's BinarySecurityToken
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def __hash__(self) -> int:
        """The certificate's DER's (which Python keeps once computed): the hash dataclass would
        make hashes the Certificate object, which serialises it again each time, 10 µs of every
        answer the hub signs (hub.signing.sign's template is cached by identity). Equal
        identities have the same certificate, so the same hash."""
        return hash(self.cert_der)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def signature_method(self) -> str:
        """The profile's algorithm for this key type, as signxml's fragment name."""
        return "ecdsa-sha256" if isinstance(self.private_key, ec.EllipticCurvePrivateKey) else "rsa-sha256"

    @classmethod
    def load(cls, key_path: Path | str, cert_path: Path | str, password: bytes | None = None) -> SigningIdentity:
        """Load (once per process and path pair) a PEM private key and its PEM certificate."""
        return _load_cached(Path(key_path).resolve(), Path(cert_path).resolve(), password)


def private_key_from_pem(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """The RSA or EC private key in `pem`, checked once per process: ValueError if it is not a
    PEM private key or not one that can sign, TypeError if it is encrypted without a password."""
    return _checked_private_key(pem, password)  # one cache key however the caller spells it


@functools.lru_cache(maxsize=32)
def _checked_private_key(pem: bytes, password: bytes | None) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise NotASigningKey(
            f"expected an RSA or EC private key (RSA-SHA256 or ECDSA-SHA256), got {type(key).__name__}"
        )
    return key


@functools.lru_cache(maxsize=32)
def _load_cached(key_path: Path, cert_path: Path, password: bytes | None) -> SigningIdentity:
    try:
        key = private_key_from_pem(key_path.read_bytes(), password)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return SigningIdentity(key, cert)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"signing key {key_path} / certificate {cert_path}: {exc}") from None
