"""One exception tree for the whole hub.

Domain code raises these; each transport maps them in one place: SOAP faults
(`soap:Client.<code>` with a detail of `code` and `detail`), CLI lines, portal
messages. `message` is a sentence a person can act on; `detail` holds the
contract's named fields (`Available`, `Required`, `Reason`...), already in wire
form. `kind` (set with `about`) says which mistake of several under one code it
is, and `facts` the values a person's sentence needs; the portal words it in
Polish from those (hub.words.error_pl), never from the English message.
"""

from __future__ import annotations

from enum import StrEnum


class FaultCode(StrEnum):
    """`HubError.code`: the fault's code on the wire (`soap:Client.<code>`, or `soap:Server`),
    in the CLI's and the portal's error lines. WS-Security's own codes are
    hub.signing.faults.SecurityFaultCode."""

    SERVER = "Server"
    SCHEMA_VIOLATION = "SchemaViolation"
    NOT_AUTHORIZED = "NotAuthorized"
    INVALID_REQUEST = "InvalidRequest"
    NOT_FOUND = "NotFound"
    COUPON_NOT_REDEEMABLE = "CouponNotRedeemable"
    INSUFFICIENT_FUNDS = "InsufficientFunds"
    IDEMPOTENCY_CONFLICT = "IdempotencyConflict"
    DAY_CLOSED = "DayClosed"
    CONFIG = "Config"
    ARCHIVE_ERROR = "ArchiveError"
    TIMESTAMP_ERROR = "TimestampError"


class HubError(Exception):
    """Base of every error the hub reports to a caller."""

    code: str = FaultCode.SERVER
    kind: str | None = None
    facts: dict[str, object] = {}

    def __init__(self, message: str, **detail: str) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def about(self, kind: str, **facts: object) -> HubError:
        """Name the mistake for a person's message: `raise InvalidRequest(...).about("login_taken")`."""
        self.kind = kind
        self.facts = facts
        return self

    def __str__(self) -> str:
        return self.message


class ClientError(HubError):
    """The caller sent something wrong; retrying the same thing will fail again."""


class SchemaViolation(ClientError):
    code = FaultCode.SCHEMA_VIOLATION


class NotAuthorized(ClientError):
    code = FaultCode.NOT_AUTHORIZED


class InvalidRequest(ClientError):
    code = FaultCode.INVALID_REQUEST


class NotFound(ClientError):
    code = FaultCode.NOT_FOUND


class CouponNotRedeemable(ClientError):
    code = FaultCode.COUPON_NOT_REDEEMABLE

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason
        self.kind = f"coupon_{reason.lower()}"


class InsufficientFunds(ClientError):
    code = FaultCode.INSUFFICIENT_FUNDS

    def __init__(self, available_grosze: int, required_grosze: int) -> None:
        from hub.money import format_pln

        super().__init__(
            f"{format_pln(available_grosze)} PLN available, "
            f"{format_pln(required_grosze)} PLN required; nothing was held.",
            Available=format_pln(available_grosze),
            Required=format_pln(required_grosze),
        )
        self.available_grosze = available_grosze
        self.required_grosze = required_grosze


class IdempotencyConflict(ClientError):
    code = FaultCode.IDEMPOTENCY_CONFLICT


class DayClosed(ClientError):
    code = FaultCode.DAY_CLOSED


class XmlRefused(InvalidRequest):
    """Malformed or hostile XML (hub.xmlsafe): a client error (`soap:Client.InvalidRequest`),
    since sending the same bytes again fails again. `reason` is "size", "dtd", "entity",
    "depth" or "malformed"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StatementError(InvalidRequest):
    """The statement is not a readable camt.053: the message names the element and its line."""

    def __init__(self, problem: str, *, element: str | None = None, line: int | None = None) -> None:
        where = " ".join(part for part in (f"line {line}" if line else "", element or "") if part)
        super().__init__(f"camt.053 {where}: {problem}" if where else f"camt.053: {problem}", Element=element or "")
        self.problem = problem
        self.element = element
        self.line = line


class WebhookTargetRefused(InvalidRequest):
    """A webhook URL's host is, or resolves to, an address webhooks may not reach."""


class WebhookTargetUnresolvable(InvalidRequest):
    """A webhook URL's host name does not resolve (now: it may later)."""


class ConfigError(HubError):
    """A config file is wrong; the message names file, entry and field."""

    code = FaultCode.CONFIG


class ConfigProblems(ConfigError):
    """Every problem `load_config` found; `str()` is the lines joined by newlines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class ArchiveError(HubError):
    """The message log's archive cannot be made or read as it stands; the message says what
    to do."""

    code = FaultCode.ARCHIVE_ERROR


class TimestampError(HubError):
    """The TSA gave no usable token, or a token does not verify; the message says why."""

    code = FaultCode.TIMESTAMP_ERROR


class LedgerInvariantError(HubError):
    """The ledger found itself in a state that must never exist. Never caught to carry on."""


class ReceiptSequenceError(HubError):
    """The cash desk's receipt counter and its payments disagree: a state that must never exist."""
