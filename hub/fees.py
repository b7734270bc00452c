"""The fee schedule: which amount of each fee is in force on a given day.

fees.toml may list a fee code several times, one entry per `valid_from`; an entry without
`valid_from` applies from the beginning of time. The entry in force on a day is the one
with the latest `valid_from` not after it, and a case type costs the sum of its fees in
force (a code may repeat). Coupons price a batch by it, the cash desk prices receipt items
by it, and the portal lists the fees a desk can take today: all through `FeeSchedule`, so
the rule is written once.

The schedule works on any entry with `code`, `amount_grosze` and `valid_from` (hub.config's
`Fee`), so it needs nothing above the kernel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar

from hub.errors import InvalidRequest


class FeeEntry(Protocol):
    """One `[[fee]]` entry as the schedule reads it."""

    @property
    def code(self) -> str: ...

    @property
    def amount_grosze(self) -> int: ...

    @property
    def valid_from(self) -> date | None: ...


F = TypeVar("F", bound=FeeEntry)


class FeeSchedule(Generic[F]):
    """Every entry of every fee, by code, oldest first."""

    def __init__(self, entries: Iterable[F]) -> None:
        versions: dict[str, list[F]] = {}
        for entry in entries:
            versions.setdefault(entry.code, []).append(entry)
        # Oldest first; an entry without valid_from is the oldest of all.
        self._versions: Mapping[str, tuple[F, ...]] = MappingProxyType(
            {code: tuple(sorted(found, key=lambda f: f.valid_from or date.min)) for code, found in versions.items()}
        )

    def in_force(self, fee_code: str, on: date) -> F | None:
        """The entry of `fee_code` in force on `on`; None for an unknown code or one whose
        first entry is valid from a later day."""
        for fee in reversed(self._versions.get(fee_code, ())):  # the latest first: every exchange asks
            if fee.valid_from is None or fee.valid_from <= on:
                return fee
        return None

    def fee(self, fee_code: str, on: date) -> F:
        """`in_force`, for a code a request names: an unknown code or one with no amount
        in force on `on` is the client's mistake (InvalidRequest)."""
        if (fee := self.in_force(fee_code, on)) is not None:
            return fee
        versions = self._versions.get(fee_code)
        if versions is None:
            raise InvalidRequest(f"Unknown fee code {fee_code!r}: fees.toml lists no such fee.")
        raise InvalidRequest(
            f"Fee {fee_code!r} has no amount in force on {on.isoformat()}: "
            f"its first entry is valid from {versions[0].valid_from}."
        )

    def amount_grosze(self, fee_codes: Iterable[str], on: date) -> int:
        """The sum of the fees in force on `on` (a case type's amount); InvalidRequest as `fee`."""
        return sum(self.fee(code, on).amount_grosze for code in fee_codes)

    def amount_in_force_grosze(self, fee_codes: Iterable[str], on: date) -> int | None:
        """`amount_grosze`, or None when one of the fees is unknown or not in force on `on`."""
        total = 0
        for code in fee_codes:
            if (fee := self.in_force(code, on)) is None:
                return None
            total += fee.amount_grosze
        return total

    def payable(self, on: date) -> list[F]:
        """Every fee with an amount above zero on `on`, one entry per code, in the order of
        the codes' first entries in fees.toml: what a cash desk can take that day."""
        fees = (self.in_force(code, on) for code in self._versions)
        return [f for f in fees if f is not None and f.amount_grosze > 0]
