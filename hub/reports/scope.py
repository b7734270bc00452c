"""What a report may show to whom, and the date range it covers.

Every report asks the actor first (hub/access.py): a company's user sees its own
company, an office's user its own offices, the operator everything; the
operator's reports (open holds, expiring coupons, the trial balance) are the
operator's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hub.access import REPORTS_READ, Actor
from hub.clock import day_bounds_utc
from hub.errors import NotAuthorized


@dataclass(frozen=True)
class ReportQuery:
    """The options of `hub report NAME`. None: not given."""

    date_from: date | None = None  # first business day (Europe/Warsaw), inclusive
    date_to: date | None = None  # last business day, inclusive
    nip: str | None = None
    office: str | None = None
    status: str | None = None
    case_type: str | None = None
    issued_by: str | None = None

    def instants(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC of the business days asked for; None where open."""
        start = day_bounds_utc(self.date_from)[0] if self.date_from else None
        end = day_bounds_utc(self.date_to)[1] if self.date_to else None
        return start, end

    def within(self, day: date) -> bool:
        return (self.date_from is None or self.date_from <= day) and (self.date_to is None or day <= self.date_to)


def company_scope(actor: Actor, nip: str | None) -> str | None:
    """The company a report covers: the one asked for, the actor's own, or
    (None) every company for the operator."""
    if nip is None and not actor.is_operator:
        if actor.company_nip is None:
            raise NotAuthorized(f"{actor.name} acts for no company")
        nip = actor.company_nip
    actor.require(REPORTS_READ, company_nip=nip)
    return nip


def office_scope(actor: Actor, office: str | None, nip: str | None) -> tuple[frozenset[str] | None, str | None]:
    """Offices (None: all) and company (None: all) of the redemptions a report covers.
    An office's user sees its own offices, also limited to one company's coupons;
    a company's user sees its own coupons at every office; the operator everything."""
    if actor.offices is not None:
        offices = frozenset({office}) if office else actor.offices
        for code in sorted(offices):
            actor.require(REPORTS_READ, office_code=code)
        return offices, nip
    nip = nip if nip is not None else actor.company_nip
    actor.require(REPORTS_READ, company_nip=nip)
    return (frozenset({office}) if office else None), nip


def operator_only(actor: Actor, report: str) -> None:
    if not actor.is_operator:
        raise NotAuthorized(f"{actor.name} may not read the {report} report: it is for the hub's operator")
    actor.require(REPORTS_READ)
