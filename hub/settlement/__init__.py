"""Daily settlement of the offices' earnings through the bank, and its reconciliation
with the escrow account's statements."""
