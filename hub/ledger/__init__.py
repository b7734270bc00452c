"""Money: double-entry accounts and immutable transfers in integer grosze.

Nouns after TigerBeetle: a hold is a PENDING transfer; capture POSTs it (all or
part, the rest is released); release VOIDs it. Transfers are never edited, only
added. Knows nothing of XML, SOAP or coupons.
"""

from hub.ledger.service import Balance, Ledger, NewTransfer

__all__ = ["Balance", "Ledger", "NewTransfer"]
