"""The reports by name, the options each takes, and checking those options once
for all of them before a report runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from hub.access import Actor
from hub.clock import Clock, business_day, utcnow
from hub.companies.service import valid_nip
from hub.config import Offices, Tariff
from hub.coupons.models import CANCELLED, EXPIRED, ISSUED, REDEEMED
from hub.db.database import Database
from hub.errors import InvalidRequest
from hub.reports import coupons, ledger, redemptions, statement
from hub.reports.csvout import EXCEL_PL
from hub.reports.model import Report
from hub.reports.render import ReportPdf, render
from hub.reports.scope import ReportQuery

COUPON_STATUSES = (ISSUED, REDEEMED, CANCELLED, EXPIRED)

# ReportQuery field -> the option a person types (contract section 9: `hub report`)
OPTION = {
    "date_from": "--from",
    "date_to": "--to",
    "nip": "--nip",
    "office": "--office",
    "status": "--status",
    "case_type": "--case-type",
    "issued_by": "--issued-by",
}


@dataclass(frozen=True)
class ReportSpec:
    name: str
    build: Callable[[ReportService, Actor, ReportQuery], Report]
    options: frozenset[str]  # the ReportQuery fields it reads
    about: str


def _spec(name: str, build, options: str, about: str) -> ReportSpec:
    return ReportSpec(name, build, frozenset(options.split()), about)


REPORTS = {
    s.name: s
    for s in (
        _spec(
            "statement",
            statement.statement,
            "date_from date_to nip",
            "a company's account: opening and closing balance, every entry",
        ),
        _spec(
            "coupons",
            coupons.coupon_register,
            "date_from date_to nip status case_type issued_by office",
            "the coupon register, with totals by status, case type, issuer and office",
        ),
        _spec(
            "redemptions",
            redemptions.redemptions,
            "date_from date_to nip office",
            "coupons used per office and business day: captured, reversed, net; with a chart",
        ),
        _spec("open-holds", ledger.open_holds, "nip", "operator: issued coupons' holds per company, beside the ledger"),
        _spec(
            "expiring",
            coupons.expiring,
            "nip",
            f"operator: coupons expiring within {coupons.EXPIRING_WITHIN_DAYS} days, per company",
        ),
        _spec(
            "trial-balance", ledger.trial_balance, "", "operator: every ledger account's debits, credits and balance"
        ),
    )
}

# every option open; ReportQuery is frozen, so one shared default is safe
NO_OPTIONS = ReportQuery()


class ReportService:
    def __init__(
        self, db: Database, tariff: Tariff, offices: Offices, clock: Clock = utcnow, companies=None, *, pdf: ReportPdf
    ) -> None:
        """`pdf` draws a report as PDF (hub.adapters.pdf.report, injected by hub.app)."""
        self.db = db
        self.tariff = tariff
        self.offices = offices
        self.clock = clock
        self.companies = companies  # hub.companies.service.CompanyService, for the statement
        self.pdf = pdf

    def render(self, report: Report, fmt: str, csv_dialect: str = EXCEL_PL) -> bytes:
        """A report from `run` as csv, json or pdf (hub.reports.render): the one way to its file."""
        return render(report, fmt, csv_dialect, pdf=self.pdf)

    def run(self, name: str, actor: Actor, query: ReportQuery = NO_OPTIONS) -> Report:
        """Check the options, ask the actor, build the report. Changes nothing."""
        spec = REPORTS.get(name)
        if spec is None:
            raise InvalidRequest(f"there is no report {name!r}; the reports are: {', '.join(REPORTS)}")
        report = spec.build(self, actor, self._checked(spec, query))
        names = self.tariff.case_types.names()
        return replace(report, generated_on=business_day(self.clock()), case_type_names=names)

    def _checked(self, spec: ReportSpec, q: ReportQuery) -> ReportQuery:
        for f in fields(q):
            if getattr(q, f.name) is not None and f.name not in spec.options:
                raise InvalidRequest(f"the {spec.name} report takes no {OPTION[f.name]}")
        if q.date_from and q.date_to and q.date_from > q.date_to:
            raise InvalidRequest(f"--from {q.date_from} is after --to {q.date_to}")
        if q.nip is not None:
            q = replace(q, nip=valid_nip(q.nip))
        if q.office is not None:
            self.offices.known(q.office)
        if q.case_type is not None:
            self.tariff.case_type(q.case_type)
        if q.status is not None and q.status not in COUPON_STATUSES:
            raise InvalidRequest(f"--status {q.status!r} is not a coupon status: one of {', '.join(COUPON_STATUSES)}")
        return q

    # -- what the reports share ------------------------------------------

    def office_name(self, code: str) -> str:
        """An office no longer in offices.toml still has its redemptions; it just has no name."""
        office = self.offices.find(code)
        return office.name if office else ""

    @staticmethod
    def parameters(q: ReportQuery, **scope: str | None) -> dict[str, str]:
        """What the report covers, as text for its heading: the options given and
        the scope the actor's permissions settled on."""
        given = {OPTION[f.name].lstrip("-"): getattr(q, f.name) for f in fields(q)}
        given.update(scope)
        return {k: str(v) for k, v in given.items() if v is not None}
