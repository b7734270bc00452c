"""The chart of accounts: every ledger account code the hub uses, named once.

Company accounts are credit-normal and protected from overdraft: they hold what
the hub owes each company. Holds move money pending from a company to the
coupon clearing account; a capture posts it and passes it on to the office's
account, which settlement empties into money in transit to the bank.
"""

from __future__ import annotations

from hub.ledger.codes import AccountKind

ESCROW = "bank:escrow"  # the hub's bank account (asset), credited by statement top-ups
SUSPENSE = "bank:suspense"  # credits on the statement not yet matched to a company
TRANSIT = "bank:transit"  # settlements sent to the bank, not yet on a statement
CLEARING = "coupons:clearing"  # holds of coupons outstanding
ADJUSTMENTS = "operator:adjustments"  # counterpart of manual credits and debits

# kinds (hub.ledger.codes), by the short names the services use
ASSET, COMPANY, CONTROL, OFFICE = (AccountKind.ASSET, AccountKind.COMPANY, AccountKind.CONTROL, AccountKind.OFFICE)


def company_account(nip: str) -> str:
    return f"company:{nip}"


def office_account(code: str) -> str:
    return f"office:{code}"


def desk_account(office_code: str, desk_id: str, method: str) -> str:
    """Money taken at one cash desk by one method (CASH in the drawer, CARD at the
    terminal acquirer): an asset of the office, never in the hub's escrow."""
    return f"desk:{office_code}:{desk_id}:{method}"


def office_takings_account(code: str) -> str:
    """What an office took at its own cash desks. Kept apart from `office_account`,
    which holds coupon money the hub owes and pays out by settlement."""
    return f"office:{code}:takings"


def office_cash_differences_account(code: str) -> str:
    """Cash counted at closing a desk day minus the cash the day's payments say is in
    the drawer: a shortage moves money out of the drawer into it, a surplus the other way."""
    return f"office:{code}:cash_differences"
