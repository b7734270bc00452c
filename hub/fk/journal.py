"""An office's journal for its finance-accounting (FK) system: one business day
(Europe/Warsaw), balanced lines of Account, Debit, Credit, Description, Reference.

Sources and their lines:

- A coupon capture (a redemption of that day): Dt 201-HUB (receivable from the
  hub, which pays it out in the settlement), Ct 750-<FEE CODE> (revenue) for
  each fee of the case type.
- A reversal made that day: the same lines with the sides swapped.
- Cash desk takings of that day (voided payments excluded): Dt 101-KASA (cash)
  and Dt 138-KARTA (card) per method, Ct 750-<FEE CODE> per fee, Ct
  760-OPLATA-MANIPULACYJNA for the handling fees.

Splitting a captured amount across the case type's fees (fees.toml, amounts in
force on the redemption's day): the fees are taken in the order fees.toml lists
them, each line gets its fee's amount while the captured amount lasts, and the
last fee's line gets whatever remains. So a partial capture fills the first fees
and leaves the later ones empty (empty lines are left out), and a coupon issued
for more than the schedule puts the excess on the last fee. A fee code that
repeats (EWID) is one line with its amounts added up.

Debits equal credits in every journal, or it is a LedgerInvariantError.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.clock import day_bounds_utc
from hub.config import Tariff
from hub.coupons.models import Redemption
from hub.errors import LedgerInvariantError
from hub.ids import format_coupon_id

RECEIVABLE_HUB = "201-HUB"
CASH = "101-KASA"
CARD = "138-KARTA"
HANDLING_FEES = "760-OPLATA-MANIPULACYJNA"
DESCRIPTION_CHARS_MAX = 255
REFERENCE_CHARS_MAX = 140


def revenue_account(fee_code: str) -> str:
    return f"750-{fee_code}"


def journal_id(office_code: str, day: date) -> str:
    """Deterministic per office and day: the FK system's idempotency key."""
    return f"FK-{office_code}-{day:%Y%m%d}"


class DayTakings(Protocol):
    """What the cash desk took at an office in a day (hub.cashdesk), grosze."""

    @property
    def office_code(self) -> str: ...
    @property
    def day(self) -> date: ...
    @property
    def by_fee_code(self) -> dict[str, int]: ...
    @property
    def handling_fees(self) -> dict[str, int]: ...  # "CASH" | "CARD"
    @property
    def by_method(self) -> dict[str, int]: ...  # "CASH" | "CARD"


@dataclass(frozen=True)
class JournalLine:
    account: str
    debit_grosze: int
    credit_grosze: int
    description: str
    reference: str

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "debit": self.debit_grosze,
            "credit": self.credit_grosze,
            "description": self.description,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Journal:
    journal_id: str
    office_code: str
    day: date
    lines: tuple[JournalLine, ...]

    @property
    def debit_grosze(self) -> int:
        return sum(line.debit_grosze for line in self.lines)

    @property
    def credit_grosze(self) -> int:
        return sum(line.credit_grosze for line in self.lines)

    def as_dict(self) -> dict:
        return {
            "journal_id": self.journal_id,
            "office_code": self.office_code,
            "day": self.day.isoformat(),
            "lines": [line.as_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Journal:
        lines = tuple(
            JournalLine(d["account"], d["debit"], d["credit"], d["description"], d["reference"]) for d in data["lines"]
        )
        return checked(cls(data["journal_id"], data["office_code"], date.fromisoformat(data["day"]), lines))


def checked(journal: Journal) -> Journal:
    """The journal, if every line is one-sided and not negative and the sides balance."""
    for line in journal.lines:
        if line.debit_grosze < 0 or line.credit_grosze < 0 or (line.debit_grosze > 0) == (line.credit_grosze > 0):
            raise LedgerInvariantError(f"journal {journal.journal_id}: line {line} must have exactly one positive side")
    if journal.debit_grosze != journal.credit_grosze:
        raise LedgerInvariantError(
            f"journal {journal.journal_id}: debits {journal.debit_grosze} and credits {journal.credit_grosze} differ"
        )
    return journal


def split_capture(tariff: Tariff, case_type: str, amount_grosze: int, on: date) -> list[tuple[str, int]]:
    """(fee code, grosze) per fee of the case type, by the rule in the module
    docstring; the amounts add up to `amount_grosze`."""
    fees = tariff.case_type(case_type).fees
    parts: dict[str, int] = {}
    left = amount_grosze
    for i, fee_code in enumerate(fees):
        share = left if i == len(fees) - 1 else min(tariff.fee_amount_grosze(fee_code, on), left)
        parts[fee_code] = parts.get(fee_code, 0) + share
        left -= share
    return [(code, grosze) for code, grosze in parts.items() if grosze > 0]


def build_journal(session: Session, tariff: Tariff, office_code: str, day: date, takings: DayTakings | None) -> Journal:
    """The journal of a known office (the caller checked its code) for `day`."""
    start, end = day_bounds_utc(day)
    redemptions = session.scalars(
        select(Redemption)
        .where(
            Redemption.office_code == office_code,
            or_(Redemption.business_day == day, and_(Redemption.reversed_at >= start, Redemption.reversed_at < end)),
        )
        .order_by(Redemption.redeemed_at, Redemption.id)
    ).all()
    lines: list[JournalLine] = []
    for r in redemptions:
        if r.business_day == day:
            lines.extend(_coupon_lines(tariff, r, reversal=False))
    for r in sorted(
        (r for r in redemptions if r.reversed_at is not None and start <= r.reversed_at < end),
        key=lambda r: (r.reversed_at, r.id),
    ):
        lines.extend(_coupon_lines(tariff, r, reversal=True))
    if takings is not None:
        lines.extend(_cash_desk_lines(tariff, office_code, day, takings))
    return checked(Journal(journal_id(office_code, day), office_code, day, tuple(lines)))


def _coupon_lines(tariff: Tariff, r: Redemption, *, reversal: bool) -> Iterable[JournalLine]:
    coupon = format_coupon_id(r.coupon_id)
    what = "Storno kuponu" if reversal else "Kupon"
    reference = _text(r.case_number, REFERENCE_CHARS_MAX)
    receivable = _text(f"{what} {coupon}, {r.case_type}, sprawa {r.case_number}", DESCRIPTION_CHARS_MAX)
    yield _line(RECEIVABLE_HUB, r.captured_grosze, not reversal, receivable, reference)  # Dt on a capture
    for fee_code, grosze in split_capture(tariff, r.case_type, r.captured_grosze, r.business_day):
        name = tariff.fee(fee_code, r.business_day).name
        yield _line(
            revenue_account(fee_code),
            grosze,
            reversal,
            _text(f"{what} {coupon}: {name}", DESCRIPTION_CHARS_MAX),
            reference,
        )


def _cash_desk_lines(tariff: Tariff, office_code: str, day: date, takings: DayTakings) -> Iterable[JournalLine]:
    reference = f"KASA-{office_code}-{day:%Y%m%d}"
    accounts = {"CASH": (CASH, "gotówka"), "CARD": (CARD, "karta")}
    for method, (account, word) in accounts.items():
        if takings.by_method.get(method, 0):
            yield JournalLine(account, takings.by_method[method], 0, f"Wpłaty w kasie ({word})", reference)
    for fee_code, grosze in sorted(takings.by_fee_code.items()):
        if grosze:
            name = tariff.fee(fee_code, day).name
            yield JournalLine(
                revenue_account(fee_code), 0, grosze, _text(f"Kasa: {name}", DESCRIPTION_CHARS_MAX), reference
            )
    for method, (_, word) in accounts.items():
        if takings.handling_fees.get(method, 0):
            yield JournalLine(
                HANDLING_FEES, 0, takings.handling_fees[method], f"Opłata manipulacyjna ({word})", reference
            )


def _line(account: str, grosze: int, debit: bool, description: str, reference: str) -> JournalLine:
    return JournalLine(account, grosze if debit else 0, 0 if debit else grosze, description, reference)


def _text(text: str, chars_max: int) -> str:
    return text if len(text) <= chars_max else text[: chars_max - 1] + "…"


def totals_by_account(journal: Journal) -> dict[str, tuple[int, int]]:
    """(debits, credits) per account: what a person checks first."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in journal.lines:
        totals[line.account][0] += line.debit_grosze
        totals[line.account][1] += line.credit_grosze
    return {k: (v[0], v[1]) for k, v in sorted(totals.items())}
