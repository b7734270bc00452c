"""Polish amounts: Babel's pl_PL form, and the amount in words on a receipt."""

import pytest

from hub.words import amount_in_words_pl, format_amount_pl


def test_amounts_as_a_polish_reader_writes_them():
    assert format_amount_pl(323000).replace("\xa0", " ") == "3 230,00 zł"
    assert format_amount_pl(5).replace("\xa0", " ") == "0,05 zł"


@pytest.mark.parametrize(
    "grosze, words",
    [
        (323000, "trzy tysiące dwieście trzydzieści złotych 00/100"),
        (100, "jeden złoty 00/100"),
        (5450, "pięćdziesiąt cztery złote 50/100"),
        (1250, "dwanaście złotych 50/100"),
        (2201, "dwadzieścia dwa złote 01/100"),
        (7, "zero złotych 07/100"),
    ],
)
def test_the_amount_in_words_takes_the_right_plural(grosze, words):
    assert amount_in_words_pl(grosze) == words
