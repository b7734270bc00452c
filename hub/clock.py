"""Time: UTC inside, Europe/Warsaw for business days (contract section 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hub.errors import InvalidRequest

WARSAW = ZoneInfo("Europe/Warsaw")

Clock = Callable[[], datetime]

# The business days the hub handles. Outside them a day is refused as InvalidRequest before
# any arithmetic: the first and last days `date` can hold have no Warsaw bounds in UTC
# (OverflowError), and no coupon, payment or statement lies centuries away.
DAY_FIRST = date(2000, 1, 1)
DAY_LAST = date(2999, 12, 31)

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9], not \d: \d takes every Unicode digit


def utcnow() -> datetime:
    return datetime.now(UTC)


def business_day(at: datetime) -> date:
    """The Warsaw calendar day an instant falls on."""
    return at.astimezone(WARSAW).date()


def check_day(day: date) -> date:
    """`day`, or InvalidRequest where it lies outside DAY_FIRST..DAY_LAST."""
    if not DAY_FIRST <= day <= DAY_LAST:
        raise InvalidRequest(f"{day.isoformat()} is out of range: the hub handles days from {DAY_FIRST} to {DAY_LAST}")
    return day


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Warsaw business day, in UTC (23, 24 or 25 hours long)."""
    check_day(day)
    start = datetime(day.year, day.month, day.day, tzinfo=WARSAW)
    end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=WARSAW)
    return start.astimezone(UTC), end.astimezone(UTC)


def wire_time(at: datetime) -> str:
    """xs:dateTime in UTC with `Z`, to the second."""
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` in ASCII digits -> date, or ValueError. Stricter than
    `date.fromisoformat`, which also takes `20260310` and week dates like `2026-W11-2`."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a day written YYYY-MM-DD")
    return date.fromisoformat(text)
