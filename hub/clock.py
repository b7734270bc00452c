"""Time: UTC inside, Europe/Warsaw for business days (contract section 1)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def business_day(at: datetime) -> date:
    """The Warsaw calendar day an instant falls on."""
    return at.astimezone(WARSAW).date()


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Warsaw business day, in UTC (23, 24 or 25 hours long)."""
    start = datetime(day.year, day.month, day.day, tzinfo=WARSAW)
    end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=WARSAW)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def wire_time(at: datetime) -> str:
    """xs:dateTime in UTC with `Z`, to the second."""
    return at.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
