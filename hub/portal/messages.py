"""A domain error as a person at the portal reads it, in Polish.

The hub's errors carry an English sentence for operators and SOAP clients, and a
code; the portal shows its own sentence per code, with the named fields the error
carries (the amounts of InsufficientFunds). Where only the English sentence knows
the detail (an InvalidRequest), it follows the Polish one.
"""

from __future__ import annotations

from hub.errors import DayClosed, HubError, IdempotencyConflict, InsufficientFunds, InvalidRequest, NotAuthorized, NotFound
from hub.money import format_pln_pl


def polish(error: HubError) -> str:
    if isinstance(error, InsufficientFunds):
        return (
            f"Za mało środków na koncie: dostępne {format_pln_pl(error.available_grosze)}, "
            f"potrzeba {format_pln_pl(error.required_grosze)}. Nic nie zostało zablokowane ani wydane. "
            "Zasil konto przelewem na rachunek wirtualny firmy (Pulpit) albo zmniejsz liczbę kuponów."
        )
    if isinstance(error, NotAuthorized):
        return "Nie masz uprawnień do tej operacji. Nic nie zostało zmienione."
    if isinstance(error, NotFound):
        return "Nie znaleziono: element nie istnieje albo nie należy do Twojej firmy lub urzędu."
    if isinstance(error, DayClosed):
        return f"Dzień kasowy jest już zamknięty; nic nie zostało zmienione. ({error.message})"
    if isinstance(error, IdempotencyConflict):
        return "Ten formularz został już wysłany z innymi danymi. Otwórz formularz ponownie i wyślij go jeszcze raz."
    if isinstance(error, InvalidRequest):
        return f"Nieprawidłowe dane; nic nie zostało zmienione. Szczegóły: {error.message}"
    return f"Operacja nie powiodła się; nic nie zostało zmienione. ({error.message})"
