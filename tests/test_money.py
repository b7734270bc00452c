from decimal import Decimal

import pytest

from hub.money import AmountError, format_pln, parse_grosze
from hub.words import format_amount_pl


@pytest.mark.parametrize(
    "text,grosze",
    [("161.50", 16150), ("0.5", 50), ("54", 5400), (Decimal("54.00"), 5400), (7, 700), ("1000.00", 100000)],
)
def test_amounts_read_exactly(text, grosze):
    assert parse_grosze(text) == grosze


@pytest.mark.parametrize(
    "bad", ["1.005", "-1.00", "1e3", "12,50", "", "abc", 1.5, Decimal("0.001"), Decimal("NaN"), True]
)
def test_inexact_or_negative_amounts_are_refused(bad):
    with pytest.raises(AmountError):
        parse_grosze(bad)


def test_formats():
    assert format_pln(16150) == "161.50"
    assert format_pln(-5) == "-0.05"
    assert format_amount_pl(16150) == "161,50\u00a0zł"
    assert format_amount_pl(123456789) == "1\u00a0234\u00a0567,89\u00a0zł"
