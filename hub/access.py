"""Who is acting, and what they may do.

An `Actor` is built by a transport (the CLI operator, a signed SOAP client, a
logged-in user) and handed to the domain services, which ask it before every
action: `actor.require("coupons:issue", company_nip=nip)`. The checks live in the
domain, so every transport gets the same answer.

Scopes: the operator acts for everyone; a company actor (a company's user or its
signed COMPANY client) only for its company; an office actor (an office's user,
Pojazd/Kierowca/WORD, a cash desk) only for its offices.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import NotAuthorized

# Company permissions (issue 4)
COUPONS_ISSUE = "coupons:issue"
COUPONS_CANCEL = "coupons:cancel"
COUPONS_READ = "coupons:read"
STATEMENT_READ = "statement:read"
REPORTS_READ = "reports:read"
USERS_MANAGE = "users:manage"
COMPANY_PERMISSIONS = (COUPONS_ISSUE, COUPONS_CANCEL, COUPONS_READ, STATEMENT_READ, REPORTS_READ, USERS_MANAGE)

# Office permissions: verify, redeem and reverse a coupon. Only the office's signed
# client (Pojazd, Kierowca, WORD: every permission of its scope) and the operator
# hold it; no portal role does, because the portal redeems nothing.
COUPONS_REDEEM = "coupons:redeem"

# Office (cash desk) permissions (issue 6)
PAYMENTS_REGISTER = "payments:register"
PAYMENTS_READ = "payments:read"
PAYMENTS_VOID = "payments:void"
DESK_CLOSE = "desk:close"
OFFICE_PERMISSIONS = (PAYMENTS_REGISTER, PAYMENTS_READ, PAYMENTS_VOID, DESK_CLOSE, REPORTS_READ, USERS_MANAGE)

# Built-in roles: name -> permissions. A company admin adds custom roles on top.
COMPANY_ROLES = {
    "admin": frozenset(COMPANY_PERMISSIONS),
    "issuer": frozenset({COUPONS_ISSUE, COUPONS_CANCEL, COUPONS_READ, STATEMENT_READ}),
    "viewer": frozenset({COUPONS_READ, STATEMENT_READ, REPORTS_READ}),
}
OFFICE_ROLES = {"cashier": frozenset({PAYMENTS_REGISTER, PAYMENTS_READ}), "supervisor": frozenset(OFFICE_PERMISSIONS)}


@dataclass(frozen=True)
class Actor:
    name: str  # as written in the audit trail: "user:anna@7010254361", "client:pojazd-1465", "cli:root"
    permissions: frozenset[str] | None = None  # None: every permission within the scope
    company_nip: str | None = None  # set: acts only for this company
    offices: frozenset[str] | None = None  # set: acts only for these offices

    @property
    def is_operator(self) -> bool:
        return self.company_nip is None and self.offices is None

    def may(self, permission: str) -> bool:
        return self.permissions is None or permission in self.permissions

    def require(self, permission: str, *, company_nip: str | None = None, office_code: str | None = None) -> None:
        """Raise NotAuthorized unless this actor holds `permission` for that company or office."""
        if not self.may(permission):
            raise NotAuthorized(f"{self.name} does not have the permission {permission}")
        self.require_scope(company_nip=company_nip, office_code=office_code)

    def require_operator(self, what: str) -> None:
        """Raise NotAuthorized unless this is the hub's operator: for what no company or
        office does for itself (registering companies, manual adjustments)."""
        if not self.is_operator:
            raise NotAuthorized(f"{self.name} may not {what}: only the hub's operator does")

    def require_scope(self, *, company_nip: str | None = None, office_code: str | None = None) -> None:
        """Raise NotAuthorized unless this actor acts for that company or office, whatever
        its permissions: what every user of a company may see (its account on the dashboard)."""
        if self.is_operator:
            return
        if company_nip is not None and self.company_nip != company_nip:
            raise NotAuthorized(f"{self.name} does not act for company {company_nip}")
        if office_code is not None and (self.offices is None or office_code not in self.offices):
            raise NotAuthorized(f"{self.name} does not act for office {office_code}")


def operator(name: str) -> Actor:
    """The hub's operator (the `hub` command on the hub's machine): every permission, every scope."""
    return Actor(name)


def client_actor(client) -> Actor:
    """A signed SOAP client (hub.signing.trust.TrustedClient) acts with every
    permission of its kind, within its config entry's company or offices."""
    if client.company_nip:
        return Actor(f"client:{client.id}", company_nip=client.company_nip)
    return Actor(f"client:{client.id}", offices=frozenset(client.offices))
