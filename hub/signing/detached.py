"""Detached signatures over bytes with the hub's key: for files the hub seals (the message
log's archives), not for SOAP (that is hub.signing.sign).

RSA keys sign with PKCS#1 v1.5 and SHA-256 (`rsa-sha256`), EC keys with ECDSA and
SHA-256, DER-encoded (`ecdsa-sha256`): the same algorithms as the WS-Security profile.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hub.signing.keys import SigningIdentity

RSA_SHA256, ECDSA_SHA256 = "rsa-sha256", "ecdsa-sha256"


def sign_bytes(identity: SigningIdentity, data: bytes) -> tuple[str, bytes]:
    """(algorithm, signature) of `data` by the identity's private key."""
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_SHA256, key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return ECDSA_SHA256, key.sign(data, ec.ECDSA(hashes.SHA256()))


def signature_valid(cert: x509.Certificate, algorithm: str, data: bytes, signature: bytes) -> bool:
    """Whether `signature` over `data` verifies with the certificate's public key under
    `algorithm` (which must match the key's type)."""
    public = cert.public_key()
    try:
        if algorithm == RSA_SHA256 and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        if algorithm == ECDSA_SHA256 and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
