"""The words people read (hub.words): Polish amounts, dates, plural forms, labels,
and a Polish sentence for every domain error kind the hub raises."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub import words
from hub.errors import CouponNotRedeemable, InsufficientFunds, InvalidRequest, NotFound
from hub.portal.words import polish

HUB = Path(__file__).resolve().parents[1] / "hub"
ENGLISH = re.compile(r"\b(is|the|must|not|malformed|closed|of|got|only|already|coupon|office|desk)\b")


@pytest.mark.parametrize(
    "grosze, text",
    [
        (0, "0,00\u00a0zł"),
        (5, "0,05\u00a0zł"),
        (16150, "161,50\u00a0zł"),
        (323000, "3\u00a0230,00\u00a0zł"),
        (123456789, "1\u00a0234\u00a0567,89\u00a0zł"),
        (-16150, "-161,50\u00a0zł"),
    ],
)
def test_amounts_have_a_decimal_comma_and_a_thousands_space(grosze, text):
    assert words.format_amount_pl(grosze) == text


def test_csv_numbers_have_a_decimal_comma_and_no_grouping():
    assert words.format_decimal_pl(323000) == "3230,00" and words.format_decimal_pl(-5) == "-0,05"


@pytest.mark.parametrize(
    "n, word",
    [
        (1, "kupon"),
        (2, "kupony"),
        (4, "kupony"),
        (5, "kuponów"),
        (12, "kuponów"),
        (22, "kupony"),
        (25, "kuponów"),
        (0, "kuponów"),
        (101, "kuponów"),
        (1000, "kuponów"),
    ],
)
def test_plural_forms_follow_polish_rules(n, word):
    assert words.plural_pl(n, "kupon", "kupony", "kuponów") == word


def test_counts_group_thousands():
    assert words.count_pl(1000, "kupon", "kupony", "kuponów") == "1\u00a0000 kuponów"


def test_dates_and_times_are_polish_and_in_warsaw_time_across_dst():
    assert words.format_date_pl(date(2026, 3, 10)) == "10.03.2026"
    assert words.format_datetime_pl(datetime(2026, 1, 10, 23, 30, tzinfo=UTC)) == "11.01.2026 00:30"  # CET
    assert (
        words.format_datetime_pl(datetime(2026, 7, 10, 22, 30, 5, tzinfo=UTC), seconds=True) == "11.07.2026 00:30:05"
    )  # CEST


def test_codes_and_people_have_polish_labels():
    assert words.coupon_status_pl("CANCELLED") == "anulowany" and words.statement_kind_pl("HOLD") == "blokada"
    assert words.payment_method_pl("CARD") == "karta płatnicza" and words.role_pl("supervisor") == "kierownik kasy"
    assert words.person_pl("user:wystawca@leasing.pl") == "wystawca@leasing.pl"
    assert words.case_type_pl("REJ_NEW", {"REJ_NEW": "Rejestracja nowego pojazdu"}) == "Rejestracja nowego pojazdu"
    assert (
        words.statement_title_pl("HOLD", "Q72D-7X9Z-19TV-PS0W", "hold:Q72D7X9Z19TVPS0W:1")
        == "kupon Q72D-7X9Z-19TV-PS0W"
    )


def test_every_error_kind_raised_in_the_hub_has_a_polish_sentence():
    raised = set()
    for path in HUB.rglob("*.py"):
        raised |= set(re.findall(r'\.about\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert raised and raised <= set(words.ERROR_BY_KIND), sorted(raised - set(words.ERROR_BY_KIND))
    for kind, sentence in words.ERROR_BY_KIND.items():
        assert not ENGLISH.search(sentence.lower()) or "kupon" in sentence.lower(), kind


def test_portal_messages_never_carry_the_english_sentence():
    malformed = InvalidRequest("coupon id 'XXXX' is malformed: 4 symbols, expected 16").about("coupon_malformed")
    assert polish(malformed).startswith("Numer kuponu jest błędny") and "malformed" not in polish(malformed)
    refused = CouponNotRedeemable("coupon ABCD is REDEEMED", "REDEEMED")
    assert polish(refused).startswith("Kupon został już wykorzystany")
    assert "desk 01" not in polish(InvalidRequest("desk 01 of office 1465 is closed"))
    assert polish(NotFound("no batch x")).startswith("Nie znaleziono")
    assert "3\u00a0230,00\u00a0zł" in polish(InsufficientFunds(100, 323000))


@pytest.mark.parametrize(
    "grosze, expected",
    [
        (323000, "trzy tysiące dwieście trzydzieści złotych 00/100"),
        (100, "jeden złoty 00/100"),
        (5450, "pięćdziesiąt cztery złote 50/100"),
        (1250, "dwanaście złotych 50/100"),
        (2201, "dwadzieścia dwa złote 01/100"),
        (7, "zero złotych 07/100"),
    ],
)
def test_the_amount_in_words_takes_the_right_plural(grosze, expected):
    assert words.amount_in_words_pl(grosze) == expected
