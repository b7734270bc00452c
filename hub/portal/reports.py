"""Reports: the ones a company's (or an office's) user may run, shown as a page
with their chart, and downloaded as CSV or PDF (hub.reports.render)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request
from markupsafe import Markup
from wtforms import SelectField
from wtforms.validators import Optional, ValidationError

from hub import access
from hub.coupons.service import STATUSES
from hub.errors import HubError
from hub.portal.app import hub_of
from hub.portal.auth import login_required
from hub.portal.charts import bar_chart_svg
from hub.portal.forms import FilterForm, day_field, options
from hub.portal.words import REPORTS, TO_BEFORE_FROM, Label, polish
from hub.reports.csvout import CSV_DIALECTS, EXCEL_PL
from hub.reports.render import pdf_text, person_text
from hub.reports.scope import ReportQuery
from hub.words import COUPON_STATUS

bp = Blueprint("reports", __name__, url_prefix="/raporty")

# name -> what it is, in Polish; which of them a user sees depends on the user's kind
COMPANY_REPORTS = {name: REPORTS[name] for name in ("coupons", "redemptions", "statement")}
OFFICE_REPORTS = {"redemptions": COMPANY_REPORTS["redemptions"]}
ROWS_SHOWN_MAX = 500  # a longer report is shown in part; the CSV and PDF have every row
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


class ReportFilter(FilterForm):
    date_from = day_field(Label.DATE_FROM, validators=[Optional()])
    date_to = day_field(Label.DATE_TO, validators=[Optional()])
    status = SelectField(
        Label.COUPON_STATUS,
        validators=[Optional()],
        choices=options([("", Label.ANY)] + [(s, COUPON_STATUS[s]) for s in STATUSES]),
    )
    case_type = SelectField(Label.CASE_TYPE, validators=[Optional()])
    office = SelectField(Label.OFFICE, validators=[Optional()])

    def __init__(self, name: str) -> None:
        super().__init__()
        hub = hub_of()
        self.case_type.choices = options(
            [("", Label.ANY)] + [(t.code, f"{t.name} ({t.code})") for t in hub.config.case_types]
        )
        self.office.choices = options(
            [("", Label.ANY)] + [(o.code, f"{o.name} ({o.code})") for o in hub.config.offices]
        )
        taken = _options(name)
        for key in ("status", "case_type", "office"):
            if key not in taken:
                delattr(self, key)

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(TO_BEFORE_FROM)

    def query(self) -> ReportQuery:
        return ReportQuery(
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            status=_value(self, "status"),
            case_type=_value(self, "case_type"),
            office=_value(self, "office"),
        )


def _options(name: str) -> frozenset[str]:
    from hub.reports.service import REPORTS

    return REPORTS[name].options


def _value(form: ReportFilter, key: str) -> str | None:
    field = getattr(form, key, None)
    return (field.data or None) if field is not None else None


def _available() -> dict[str, tuple[str, str]]:
    return COMPANY_REPORTS if g.actor.company_nip else OFFICE_REPORTS


@bp.route("/")
@login_required(access.REPORTS_READ)
def index():
    return render_template("reports/index.html", reports=_available())


@bp.route("/<name>")
@login_required(access.REPORTS_READ)
def show(name: str):
    if name not in _available():
        abort(404)
    form = ReportFilter(name)
    report, problem = None, None
    if form.validate():
        try:
            report = hub_of().reports.run(name, g.actor, form.query())
        except HubError as e:
            problem = polish(e)
    chart = Markup(bar_chart_svg(report.chart)) if report is not None and report.chart is not None else None
    return render_template(
        "reports/show.html",
        name=name,
        title=_available()[name][0],
        form=form,
        report=report,
        problem=problem,
        chart=chart,
        rows_shown_max=ROWS_SHOWN_MAX,
        cell=person_text,
        figure=pdf_text,
        query={k: v for k, v in request.args.items() if v},
    )


@bp.route("/<name>.<fmt>")
@login_required(access.REPORTS_READ)
def download(name: str, fmt: str):
    if name not in _available() or fmt not in DOWNLOADS:
        abort(404)
    form = ReportFilter(name)
    dialect = request.args.get("dialect", EXCEL_PL)
    if not form.validate() or dialect not in CSV_DIALECTS:
        abort(400)
    report = hub_of().reports.run(name, g.actor, form.query())
    day = report.generated_on.isoformat() if report.generated_on else ""
    return Response(
        hub_of().reports.render(report, fmt, dialect),
        mimetype=DOWNLOADS[fmt],
        headers={"Content-Disposition": f'attachment; filename="raport-{name}-{day}.{fmt}"'},
    )
