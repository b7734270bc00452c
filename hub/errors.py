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


class HubError(Exception):
    """Base of every error the hub reports to a caller."""

    code = "Server"
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
    code = "SchemaViolation"


class NotAuthorized(ClientError):
    code = "NotAuthorized"


class InvalidRequest(ClientError):
    code = "InvalidRequest"


class NotFound(ClientError):
    code = "NotFound"


class CouponNotRedeemable(ClientError):
    code = "CouponNotRedeemable"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason
        self.kind = f"coupon_{reason.lower()}"


class InsufficientFunds(ClientError):
    code = "InsufficientFunds"

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
    code = "IdempotencyConflict"


class DayClosed(ClientError):
    code = "DayClosed"


class ConfigError(HubError):
    """A config file is wrong; the message names file, entry and field."""

    code = "Config"


class LedgerInvariantError(HubError):
    """The ledger found itself in a state that must never exist. Never caught to carry on."""

    code = "Server"
