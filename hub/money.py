"""Money at the edges: PLN text and decimals in, integer grosze inside, text out.

This is the one place that converts. Floats never touch money: a float is
refused, not rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_AMOUNT = re.compile(r"^\d{1,13}(\.\d{1,2})?$")


class AmountError(ValueError):
    """Text or number that is not an amount of PLN to the grosz."""


def parse_grosze(value: str | Decimal | int) -> int:
    """`"161.50"`, `Decimal("161.5")` or `161` PLN -> 16150 grosze.

    Refuses negatives, more than two decimal places, exponents and floats.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise AmountError(f"{value!r} is not an exact amount; write it as text, e.g. \"54.00\"")
    if isinstance(value, int):
        if value < 0:
            raise AmountError(f"{value} is negative")
        return value * 100
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError(f"{value} is not an amount")
        if value < 0:
            raise AmountError(f"{value} is negative")
        if value != value.quantize(Decimal("0.01")):
            raise AmountError(f"{value} has more than 2 decimal places")
        return int(value * 100)
    text = str(value).strip()
    if not _AMOUNT.match(text):
        raise AmountError(f"{value!r} is not an amount in PLN with at most 2 decimal places, e.g. 161.50")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation as e:  # pragma: no cover - the regex already refuses these
        raise AmountError(f"{value!r} is not an amount") from e


def to_decimal(grosze: int) -> Decimal:
    """16150 -> Decimal('161.50'), for xs:decimal on the wire."""
    return (Decimal(grosze) / 100).quantize(Decimal("0.01"))


def format_pln(grosze: int) -> str:
    """16150 -> '161.50' (wire, CLI, JSON)."""
    sign = "-" if grosze < 0 else ""
    whole, part = divmod(abs(grosze), 100)
    return f"{sign}{whole}.{part:02d}"


def format_pln_pl(grosze: int) -> str:
    """16150 -> '161,50 zł'; 123456 -> '1 234,56 zł' (printed documents, in Polish):
    Babel's pl_PL form, from the one place for Polish words (hub.words)."""
    from hub.words import format_amount_pl

    return format_amount_pl(grosze)
