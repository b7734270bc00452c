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
    """The WS-Security 1.1 fault codes (the local part of `qname`), each with its namespace
    and the faultstring the specification gives for it."""

    namespace: str
    spec_text: str

    def __new__(cls, code: str, spec_text: str, namespace: str = ns.WSSE) -> SecurityFaultCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.spec_text, member.namespace = spec_text, namespace
        return member

    INVALID_SECURITY = "InvalidSecurity", "An error was discovered processing the <wsse:Security> header."
    INVALID_SECURITY_TOKEN = "InvalidSecurityToken", "An invalid security token was provided."
    FAILED_AUTHENTICATION = "FailedAuthentication", "The security token could not be authenticated or authorized."
    FAILED_CHECK = "FailedCheck", "The signature or decryption was invalid."
    UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm", "An unsupported signature or encryption algorithm was used."
    SECURITY_TOKEN_UNAVAILABLE = "SecurityTokenUnavailable", "Referenced security token could not be retrieved."
    MESSAGE_EXPIRED = "MessageExpired", "The message has expired.", ns.WSU


class SecurityFault(HubError):
    """Base of every refusal by hub.signing; the SOAP layer uses `qname`, not `code`. A
    subclass names its `code`; its `qname` and `spec_text` follow from it."""

    code = SecurityFaultCode.INVALID_SECURITY
    qname: ClassVar[tuple[str, str]] = (code.namespace, code)
    spec_text: ClassVar[str] = code.spec_text

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.qname, cls.spec_text = (cls.code.namespace, cls.code), cls.code.spec_text


class InvalidSecurity(SecurityFault):
    code = SecurityFaultCode.INVALID_SECURITY


class InvalidSecurityToken(SecurityFault):
    code = SecurityFaultCode.INVALID_SECURITY_TOKEN


class FailedAuthentication(SecurityFault):
    code = SecurityFaultCode.FAILED_AUTHENTICATION


class FailedCheck(SecurityFault):
    code = SecurityFaultCode.FAILED_CHECK


class UnsupportedAlgorithm(SecurityFault):
    code = SecurityFaultCode.UNSUPPORTED_ALGORITHM


class SecurityTokenUnavailable(SecurityFault):
    code = SecurityFaultCode.SECURITY_TOKEN_UNAVAILABLE


class MessageExpired(SecurityFault):
    code = SecurityFaultCode.MESSAGE_EXPIRED
