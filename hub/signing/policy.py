"""What a signature must look like to be accepted (contract section 2), as one frozen value.

Algorithm identifiers are URIs, spelled once here (they are not namespaces, so not in hub.ns).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub import ns

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


@dataclass(frozen=True)
class SignaturePolicy:
    """Secure defaults; SHA-1 only for a client whose config entry says `allow_sha1`."""

    signature_methods: frozenset[str] = frozenset({RSA_SHA256, ECDSA_SHA256})
    digest_methods: frozenset[str] = frozenset({SHA256})
    sha1_signature_methods: frozenset[str] = frozenset({RSA_SHA1})
    sha1_digest_methods: frozenset[str] = frozenset({SHA1})
    c14n_methods: frozenset[str] = frozenset({ns.EXC_C14N})
    clock_skew_s: int = 300
    replay_window_s: int = 900

    def allowed_signature_methods(self, allow_sha1: bool) -> frozenset[str]:
        return self.signature_methods | (self.sha1_signature_methods if allow_sha1 else frozenset())

    def allowed_digest_methods(self, allow_sha1: bool) -> frozenset[str]:
        return self.digest_methods | (self.sha1_digest_methods if allow_sha1 else frozenset())
