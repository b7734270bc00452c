"""The ledger's words, named once: transfer kinds, transfer codes and account kinds.

Each is a `StrEnum`, so the value stored in the database (and shown on a statement or a
report) is the plain string it always was; a member compares equal to that string. A code
is written by the package that moves the money and read by others (a company statement
reads TOPUP written by hub.bank): both use the member, so a typo is an AttributeError,
not a statement line that silently falls through to ADJUSTMENT.
"""

from __future__ import annotations

from enum import StrEnum


class TransferKind(StrEnum):
    """`LedgerTransfer.kind`: how the transfer moves money (TigerBeetle's nouns)."""

    POSTED = "POSTED"  # a plain transfer
    PENDING = "PENDING"  # a hold
    POST = "POST"  # posts a pending transfer, all or part; the rest is released
    VOID = "VOID"  # releases a pending transfer, all of it


class TransferCode(StrEnum):
    """`LedgerTransfer.code`: why the money moved (at most 16 characters, the column)."""

    TOPUP = "TOPUP"  # hub.bank: a statement credit matched to a company
    SUSPENSE = "SUSPENSE"  # hub.bank: a credit not matched to a company (yet), or its reversal
    ADJUSTMENT = "ADJUSTMENT"  # hub.companies: an operator's manual credit or debit
    HOLD = "HOLD"  # hub.coupons: a coupon issued holds its amount
    CAPTURE = "CAPTURE"  # hub.coupons: a redemption posts the hold
    RELEASE = "RELEASE"  # hub.coupons: a coupon cancelled or expired voids the hold
    EARNING = "EARNING"  # hub.coupons: the captured money passed on to the office
    REVERSAL = "REVERSAL"  # hub.coupons: a redemption reversed, the money back to the company
    SETTLEMENT = "SETTLEMENT"  # hub.settlement: an office's day sent to the bank
    SETTLE_REJECTED = "SETTLE_REJECTED"  # hub.settlement: the bank refused it
    SETTLE_BOOKED = "SETTLE_BOOKED"  # hub.settlement: on the escrow statement
    SETTLE_RETURNED = "SETTLE_RETURNED"  # hub.settlement: booked, then returned by the bank
    DESK_PAYMENT = "DESK_PAYMENT"  # hub.cashdesk: a payment taken at a desk
    DESK_VOID = "DESK_VOID"  # hub.cashdesk: a desk payment voided
    DESK_DIFFERENCE = "DESK_DIFFERENCE"  # hub.cashdesk: cash counted minus cash expected


class AccountKind(StrEnum):
    """`LedgerAccount.kind`."""

    ASSET = "ASSET"  # money the hub or an office holds: escrow, a desk's drawer
    COMPANY = "COMPANY"  # prepaid money the hub owes a company (no overdraft)
    CONTROL = "CONTROL"  # clearing, suspense, transit, adjustments
    OFFICE = "OFFICE"  # what the hub owes an office, and an office's takings
