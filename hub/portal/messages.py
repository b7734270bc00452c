"""A domain error as a person at the portal reads it, in Polish.

The hub's errors carry an English sentence for operators and SOAP clients, and a
code (and, where one code covers several mistakes, a kind); the portal shows the
Polish sentence hub.words has for that code and kind, with the named facts the
error carries (the amounts of InsufficientFunds). The English sentence is never
shown here: it stays in the log and the audit trail.
"""

from __future__ import annotations

from hub.errors import HubError, InsufficientFunds
from hub.words import NOTHING_CHANGED, error_pl, format_amount_pl


def polish(error: HubError) -> str:
    if isinstance(error, InsufficientFunds):
        return (
            f"Za mało środków na koncie: dostępne {format_amount_pl(error.available_grosze)}, "
            f"potrzeba {format_amount_pl(error.required_grosze)}. Nic nie zostało zablokowane ani wydane. "
            "Zasil konto przelewem na rachunek wirtualny firmy (Pulpit) albo zmniejsz liczbę kuponów."
        )
    return f"{error_pl(error.code, error.kind, error.facts)} {NOTHING_CHANGED}"
