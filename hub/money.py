"""Money at the edges: PLN text and decimals in, integer grosze inside, text out.

This is the one place that converts. Floats never touch money: a float is
refused, not rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")  # [0-9], not \d: \d takes every Unicode digit
# xs:decimal as ISO 20022 amounts write it: an optional "+", digits, an optional point and
# fraction digits ("18.150", "5442.09000", "7.", ".5"); ASCII digits only.
_DECIMAL = re.compile(r"^\+?([0-9]*)(?:\.([0-9]*))?$")


class AmountError(ValueError):
    """Text or number that is not an amount of PLN to the grosz."""


def parse_grosze(value: str | Decimal | int) -> int:
    """`"161.50"`, `Decimal("161.5")` or `161` PLN -> 16150 grosze.

    Refuses negatives, more than two decimal places, exponents and floats.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise AmountError(f'{value!r} is not an exact amount; write it as text, e.g. "54.00"')
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


def parse_decimal_grosze(text: str, *, fraction_digits_max: int, total_digits_max: int) -> int:
    """A non-negative xs:decimal in any lexical form its schema allows -> grosze, exactly:
    `"18.150"` -> 1815, `"5442.09000"` -> 544209. Refuses a non-zero digit past the grosz,
    more fraction or total digits than the schema's facets allow, signs and exponents."""
    match = _DECIMAL.match(text)
    if match is None or not (match.group(1) or match.group(2)):
        raise AmountError(f"{text!r} is not a decimal amount")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > fraction_digits_max:
        raise AmountError(f"{text!r} has more than {fraction_digits_max} fraction digits")
    if len(whole.lstrip("0")) + len(fraction.rstrip("0")) > total_digits_max:
        raise AmountError(f"{text!r} has more than {total_digits_max} digits")
    if fraction[2:].strip("0"):
        raise AmountError(f"{text!r} has a non-zero digit past the grosz")
    return int(whole or "0") * 100 + int(fraction[:2].ljust(2, "0"))


@lru_cache(maxsize=512)
def currency_known(code: str) -> bool:
    """Whether `code` is an ISO 4217 currency code (pycountry's copy of the standard's list)."""
    import pycountry

    return len(code) == 3 and code.isascii() and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


def to_decimal(grosze: int) -> Decimal:
    """16150 -> Decimal('161.50'), for xs:decimal on the wire."""
    return (Decimal(grosze) / 100).quantize(Decimal("0.01"))


def format_pln(grosze: int) -> str:
    """16150 -> '161.50' (wire, CLI, JSON)."""
    sign = "-" if grosze < 0 else ""
    whole, part = divmod(abs(grosze), 100)
    return f"{sign}{whole}.{part:02d}"
