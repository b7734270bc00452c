"""hub.fees.FeeSchedule: which entry of a fee is in force on a day, and what a case type costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from hub.errors import InvalidRequest
from hub.fees import FeeSchedule


@dataclass(frozen=True)
class Entry:
    code: str
    amount_grosze: int
    valid_from: date | None = None


SCHEDULE = FeeSchedule(
    [
        Entry("DR", 6_000, date(2027, 7, 1)),  # listed before the entries it follows
        Entry("DR", 5_000),
        Entry("DR", 5_500, date(2026, 1, 1)),
        Entry("EWID", 1_000, date(2026, 6, 1)),
        Entry("FREE", 0),
    ]
)


@pytest.mark.parametrize(
    ("code", "day", "amount"),
    [
        ("DR", date(2025, 12, 31), 5_000),  # the entry without valid_from: since the beginning of time
        ("DR", date(2026, 1, 1), 5_500),  # on its valid_from day
        ("DR", date(2027, 6, 30), 5_500),
        ("DR", date(2027, 7, 1), 6_000),
        ("EWID", date(2026, 6, 1), 1_000),
    ],
)
def test_the_entry_in_force_is_the_latest_begun(code: str, day: date, amount: int) -> None:
    fee = SCHEDULE.in_force(code, day)
    assert fee is not None and fee.amount_grosze == amount


def test_a_fee_not_yet_in_force_or_unknown_is_none_and_a_request_naming_it_is_refused() -> None:
    assert SCHEDULE.in_force("EWID", date(2026, 5, 31)) is None
    assert SCHEDULE.in_force("XX", date(2026, 5, 31)) is None
    with pytest.raises(InvalidRequest, match="no amount in force on 2026-05-31"):
        SCHEDULE.fee("EWID", date(2026, 5, 31))
    with pytest.raises(InvalidRequest, match="Unknown fee code 'XX'"):
        SCHEDULE.fee("XX", date(2026, 5, 31))


def test_a_case_type_costs_its_fees_in_force_a_repeated_code_counted_each_time() -> None:
    day = date(2026, 6, 1)
    assert SCHEDULE.amount_in_force_grosze(["DR", "EWID", "EWID"], day) == 7_500
    assert SCHEDULE.amount_grosze(["DR", "EWID", "EWID"], day) == 7_500
    assert SCHEDULE.amount_in_force_grosze([], day) == 0
    assert SCHEDULE.amount_in_force_grosze(["DR", "EWID"], date(2026, 5, 31)) is None  # EWID not yet
    assert SCHEDULE.amount_in_force_grosze(["DR", "XX"], day) is None


def test_a_desk_can_take_each_fee_above_zero_once() -> None:
    assert [(f.code, f.amount_grosze) for f in SCHEDULE.payable(date(2026, 6, 1))] == [("DR", 5_500), ("EWID", 1_000)]
