"""Words people read, in Polish: amounts as Babel writes them for pl_PL, and an
amount in words for a cash receipt (KP). Money comes in as integer grosze."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from num2words import num2words


def format_amount_pl(grosze: int) -> str:
    """`323000` -> "3 230,00 zł" (a no-break space between thousands and before "zł")."""
    return format_currency(Decimal(grosze) / 100, "PLN", locale="pl_PL")


def zloty_word(zloty: int) -> str:
    """The plural form of "złoty" after a count: 1 złoty, 2-4 złote (not 12-14), else złotych."""
    if zloty == 1:
        return "złoty"
    if zloty % 10 in (2, 3, 4) and zloty % 100 not in (12, 13, 14):
        return "złote"
    return "złotych"


def amount_in_words_pl(grosze: int) -> str:
    """`323000` -> "trzy tysiące dwieście trzydzieści złotych 00/100", as written on a receipt."""
    if grosze < 0:
        raise ValueError(f"an amount in words is of a non-negative amount, got {grosze}")
    zloty, rest = divmod(grosze, 100)
    return f"{num2words(zloty, lang='pl')} {zloty_word(zloty)} {rest:02d}/100"
