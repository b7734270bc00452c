"""WS-Security 1.1 faults (contract section 3).

The SOAP layer writes `qname` as the faultcode (`wsse:FailedCheck`, `wsu:MessageExpired`) and
`message` as the faultstring. `spec_text` is the faultstring the WS-Security 1.1 specification gives
for the code; our messages are more specific so that the caller's engineers can act on them.
Which check raises which fault: see the tables in hub.signing.verify and hub.signing.trust.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from hub import ns
from hub.errors import HubError


class SecurityFaultCode(StrEnum):
    """The WS-Security 1.1 fault codes (the local part of `qname`)."""

    INVALID_SECURITY = "InvalidSecurity"
    INVALID_SECURITY_TOKEN = "InvalidSecurityToken"
    FAILED_AUTHENTICATION = "FailedAuthentication"
    FAILED_CHECK = "FailedCheck"
    UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm"
    SECURITY_TOKEN_UNAVAILABLE = "SecurityTokenUnavailable"
    MESSAGE_EXPIRED = "MessageExpired"


class SecurityFault(HubError):
    """Base of every refusal by hub.signing; the SOAP layer uses `qname`, not `code`."""

    code = SecurityFaultCode.INVALID_SECURITY
    qname: ClassVar[tuple[str, str]] = (ns.WSSE, code)
    spec_text: ClassVar[str] = "An error was discovered processing the <wsse:Security> header."


class InvalidSecurity(SecurityFault):
    code = SecurityFaultCode.INVALID_SECURITY
    qname = (ns.WSSE, code)
    spec_text = "An error was discovered processing the <wsse:Security> header."


class InvalidSecurityToken(SecurityFault):
    code = SecurityFaultCode.INVALID_SECURITY_TOKEN
    qname = (ns.WSSE, code)
    spec_text = "An invalid security token was provided."


class FailedAuthentication(SecurityFault):
    code = SecurityFaultCode.FAILED_AUTHENTICATION
    qname = (ns.WSSE, code)
    spec_text = "The security token could not be authenticated or authorized."


class FailedCheck(SecurityFault):
    code = SecurityFaultCode.FAILED_CHECK
    qname = (ns.WSSE, code)
    spec_text = "The signature or decryption was invalid."


class UnsupportedAlgorithm(SecurityFault):
    code = SecurityFaultCode.UNSUPPORTED_ALGORITHM
    qname = (ns.WSSE, code)
    spec_text = "An unsupported signature or encryption algorithm was used."


class SecurityTokenUnavailable(SecurityFault):
    code = SecurityFaultCode.SECURITY_TOKEN_UNAVAILABLE
    qname = (ns.WSSE, code)
    spec_text = "Referenced security token could not be retrieved."


class MessageExpired(SecurityFault):
    code = SecurityFaultCode.MESSAGE_EXPIRED
    qname = (ns.WSU, code)
    spec_text = "The message has expired."
