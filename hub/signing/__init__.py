"""Every byte of WS-Security (contract section 2): signing, verifying, trust, faults.

Services call `verify_envelope` on each request and read only `VerifiedRequest.body`; they sign
each response (faults included) with `sign_envelope`.
"""

from hub.signing.faults import (
    FailedAuthentication,
    FailedCheck,
    InvalidSecurity,
    InvalidSecurityToken,
    MessageExpired,
    SecurityFault,
    SecurityTokenUnavailable,
    UnsupportedAlgorithm,
)
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.sign import sign_envelope
from hub.signing.trust import TrustedClient, TrustStore
from hub.signing.verify import MemoryReplayCache, ReplayCache, VerifiedRequest, verify_envelope

__all__ = [
    "FailedAuthentication",
    "FailedCheck",
    "InvalidSecurity",
    "InvalidSecurityToken",
    "MemoryReplayCache",
    "MessageExpired",
    "ReplayCache",
    "SecurityFault",
    "SecurityTokenUnavailable",
    "SignaturePolicy",
    "SigningIdentity",
    "TrustStore",
    "TrustedClient",
    "UnsupportedAlgorithm",
    "VerifiedRequest",
    "sign_envelope",
    "verify_envelope",
]
