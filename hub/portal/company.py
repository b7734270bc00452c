"""The company area: the dashboard with the top-up instructions, issuing coupons,
batches and their PDF, the coupon list, cancelling, and the statement."""

from __future__ import annotations

import io
import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from markupsafe import Markup
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from hub import access
from hub.clock import business_day
from hub.companies.service import topup_title
from hub.coupons.service import BATCH_REFERENCE_CHARS_MAX as REFERENCE_CHARS_MAX
from hub.coupons.service import STATUSES
from hub.errors import HubError, InsufficientFunds
from hub.money import AmountError, parse_grosze
from hub.portal.app import hub_of
from hub.portal.auth import login_required
from hub.portal.forms import (
    PAGE_SIZE,
    CountField,
    FilterForm,
    PortalForm,
    day_field,
    label_of,
    newest_first,
    options,
    order_field,
    page_number,
    pages,
)
from hub.portal.payment_qr import AMOUNT_GROSZE_MAX, qr_svg, zbp_2d
from hub.portal.words import (
    NOT_AN_AMOUNT_TOPUP,
    RECIPIENT,
    TO_BEFORE_FROM,
    Ask,
    Label,
    coupon_cancelled,
    coupon_count_range,
    coupons_issued,
    polish,
    qr_amount_too_large,
)
from hub.words import COUPON_STATUS, format_amount_pl, statement_title_pl

bp = Blueprint("company", __name__, url_prefix="/firma")


def nip() -> str:
    return g.actor.company_nip


# -- dashboard ------------------------------------------------------------------


@bp.route("/")
@login_required(area="company")
def dashboard():
    hub = hub_of()
    account = hub.companies.account(nip(), actor=g.actor)
    amount_text = request.args.get("kwota", "").strip().replace(",", ".")
    amount_grosze, amount_error = 0, None
    if amount_text:
        try:
            amount_grosze = parse_grosze(amount_text)
        except AmountError:
            amount_error = NOT_AN_AMOUNT_TOPUP
        else:
            if amount_grosze > AMOUNT_GROSZE_MAX:
                amount_error = qr_amount_too_large(AMOUNT_GROSZE_MAX)
                amount_grosze = 0
    qr = qr_text = None
    if account.virtual_account is not None:  # a ZBP 2D code carries a Polish NRB only
        qr_text = zbp_2d(account.virtual_account, amount_grosze, RECIPIENT, topup_title(account.nip))
        qr = Markup(qr_svg(qr_text, Label.TOPUP_QR))
    return render_template(
        "company/dashboard.html",
        account=account,
        qr=qr,
        qr_text=qr_text,
        recipient=RECIPIENT,
        title=topup_title(account.nip),
        escrow_iban=hub.companies.escrow_account,
        amount_text=amount_text,
        amount_error=amount_error,
        show_balance=g.actor.may(access.STATEMENT_READ) or g.actor.may(access.COUPONS_ISSUE),
    )


# -- issuing ----------------------------------------------------------------------


class IssueForm(PortalForm):
    case_type = SelectField(Label.CASE_TYPE, validators=[InputRequired()])
    count = CountField(Label.COUPON_COUNT, validators=[InputRequired()])
    office = SelectField(Label.VALID_AT_OFFICE, validators=[Optional()])
    reference = StringField(Label.BATCH_REFERENCE, validators=[Optional(), Length(max=REFERENCE_CHARS_MAX)])

    def __init__(self, hub, **kwargs) -> None:
        super().__init__(**kwargs)
        today = business_day(hub.clock())
        self.amounts = {t.code: hub.config.case_type_amount_grosze(t.code, today) for t in hub.config.case_types}
        self.case_type.choices = options(
            (t.code, f"{t.name}, {format_amount_pl(self.amounts[t.code])}") for t in hub.config.case_types
        )
        self.office.choices = options(
            [("", Label.ANY_OFFICE)] + [(o.code, f"{o.name} ({o.code})") for o in hub.config.offices]
        )
        self.count_max = hub.config.coupons.batch_count_max
        self.count.validators = [
            InputRequired(Ask.COUPON_COUNT),
            NumberRange(1, self.count_max, coupon_count_range(self.count_max)),
        ]


class ConfirmIssueForm(IssueForm):
    request_id = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f-]{36}$")])


@bp.route("/kupony/wydaj", methods=["GET", "POST"])
@login_required(access.COUPONS_ISSUE, area="company")
def issue():
    """Step 1 (GET, then POST here): choose; the total is shown before anything is held."""
    hub = hub_of()
    form = IssueForm(hub)
    account = hub.companies.account(nip(), actor=g.actor)
    if form.validate_on_submit():
        quote = hub.coupons.quote(form.case_type.data, form.count.data)
        confirm = ConfirmIssueForm(
            hub,
            formdata=None,
            case_type=form.case_type.data,
            count=form.count.data,
            office=form.office.data,
            reference=form.reference.data,
            request_id=str(uuid.uuid4()),
        )
        return render_template(
            "company/issue_confirm.html",
            form=confirm,
            total=quote.total_grosze,
            account=account,
            each=quote.each_grosze,
            case_label=label_of(form.case_type, form.case_type.data),
            office_label=label_of(form.office, form.office.data or ""),
        )
    return render_template("company/issue.html", form=form, account=account)


@bp.route("/kupony/wydaj/potwierdz", methods=["POST"])
@login_required(access.COUPONS_ISSUE, area="company")
def issue_confirm():
    """Step 2: issue. The RequestId was fixed in step 1, so a second click issues nothing more."""
    hub = hub_of()
    form = ConfirmIssueForm(hub)
    account = hub.companies.account(nip(), actor=g.actor)
    if not form.validate_on_submit():
        return render_template("company/issue.html", form=form, account=account), 400
    try:
        batch = hub.coupons.issue(
            request_id=form.request_id.data,
            company_nip=nip(),
            case_type=form.case_type.data,
            count=form.count.data,
            office_code=form.office.data or None,
            actor=g.actor,
            reference=form.reference.data or None,
        )
    except HubError as e:
        status = 409 if isinstance(e, InsufficientFunds) else 400
        return render_template(
            "company/issue.html",
            form=form,
            account=hub.companies.account(nip(), actor=g.actor),
            problem=polish(e),
            insufficient=isinstance(e, InsufficientFunds),
        ), status
    flash(coupons_issued(len(batch.coupons), batch.total_held_grosze), "success")
    return redirect(url_for("company.batch", batch_id=batch.batch_id))


# -- batches ----------------------------------------------------------------------


@bp.route("/partie")
@login_required(access.COUPONS_READ, area="company")
def batches():
    form = BatchFilter()
    page = page_number()
    result = hub_of().coupon_browser.batches(
        actor=g.actor,
        company_nip=nip(),
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        newest_first=newest_first(form),
    )
    return render_template(
        "company/batches.html", form=form, page=result, number=page, pages=pages(result.total), query=_query()
    )


@bp.route("/partie/<batch_id>")
@login_required(access.COUPONS_READ, area="company")
def batch(batch_id: str):
    detail = hub_of().coupon_browser.batch(actor=g.actor, batch_id=batch_id)
    return render_template("company/batch.html", detail=detail, offices=_office_names())


@bp.route("/partie/<batch_id>.pdf")
@login_required(access.COUPONS_READ, area="company")
def batch_pdf(batch_id: str):
    """`?na_arkuszu=2` or `4`: that many coupons to an A4 sheet, with cut marks (default 1)."""
    per_page = request.args.get("na_arkuszu", "1")
    if per_page not in ("1", "2", "4"):
        abort(400)
    out = io.BytesIO()
    hub_of().coupon_queries.write_pdf(out, actor=g.actor, batch_id=batch_id, per_page=int(per_page))
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=True, download_name=f"kupony-{batch_id}.pdf")


@bp.route("/kupony/<coupon_id>.pdf")
@login_required(access.COUPONS_READ, area="company")
def coupon_pdf(coupon_id: str):
    out = io.BytesIO()
    hub_of().coupon_queries.write_pdf(out, actor=g.actor, coupon_ids=[coupon_id])
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=True, download_name=f"kupon-{coupon_id}.pdf")


# -- the coupon list ----------------------------------------------------------------


class CouponFilter(FilterForm):
    status = SelectField(
        Label.STATUS,
        choices=options([("", Label.ANY)] + [(s, COUPON_STATUS[s]) for s in STATUSES]),
        validators=[Optional()],
    )
    issued_from = day_field(Label.ISSUED_FROM, validators=[Optional()])
    issued_to = day_field(Label.ISSUED_TO, validators=[Optional()])
    search = StringField(Label.COUPON_SEARCH, validators=[Optional(), Length(max=64)])
    order = order_field()

    def validate_issued_to(self, field) -> None:
        if field.data and self.issued_from.data and field.data < self.issued_from.data:
            raise ValidationError(TO_BEFORE_FROM)


@bp.route("/kupony")
@login_required(access.COUPONS_READ, area="company")
def coupons():
    hub = hub_of()
    form = CouponFilter()
    page = page_number()
    coupons, total, problem = (), 0, None
    if form.validate():
        try:
            if form.search.data:
                coupons = hub.coupon_browser.search(
                    actor=g.actor, company_nip=nip(), text=form.search.data, newest_first=newest_first(form)
                )
                total = len(coupons)
            else:
                listed = hub.coupon_queries.list(
                    actor=g.actor,
                    company_nip=nip(),
                    status=form.status.data or None,
                    issued_from=form.issued_from.data,
                    issued_to=form.issued_to.data,
                    offset=(page - 1) * PAGE_SIZE,
                    limit=PAGE_SIZE,
                    newest_first=newest_first(form),
                )
                coupons, total = listed.coupons, listed.total
        except HubError as e:
            problem = polish(e)
    return render_template(
        "company/coupons.html",
        form=form,
        coupons=coupons,
        total=total,
        number=page,
        pages=pages(total) if not form.search.data else 1,
        query=_query(),
        problem=problem,
        offices=_office_names(),
        may_cancel=g.actor.may(access.COUPONS_CANCEL),
    )


class CancelForm(PortalForm):
    request_id = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f-]{36}$")])


@bp.route("/kupony/<coupon_id>/anuluj", methods=["GET", "POST"])
@login_required(access.COUPONS_CANCEL, area="company")
def cancel(coupon_id: str):
    hub = hub_of()
    form = CancelForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            released = hub.coupons.cancel(request_id=form.request_id.data, coupon_text=coupon_id, actor=g.actor)
        except HubError as e:
            return render_template("company/cancel.html", form=form, coupon_id=coupon_id, problem=polish(e)), 400
        flash(coupon_cancelled(coupon_id, released), "success")
        return redirect(url_for("company.coupons", search=coupon_id))
    form.request_id.data = str(uuid.uuid4())
    return render_template("company/cancel.html", form=form, coupon_id=coupon_id)


# -- statement -----------------------------------------------------------------------


class StatementFilter(FilterForm):
    date_from = day_field(Label.DATE_FROM, validators=[Optional()])
    date_to = day_field(Label.DATE_TO, validators=[Optional()])
    order = order_field()


class BatchFilter(FilterForm):
    order = order_field()


@bp.route("/wyciag")
@login_required(access.STATEMENT_READ, area="company")
def statement():
    hub = hub_of()
    form = StatementFilter()
    today = business_day(hub.clock())
    form.validate()
    date_from = form.date_from.data or today.replace(day=1)
    date_to = form.date_to.data or today
    statement, problem, shown = None, None, []
    page = page_number()
    try:
        statement = hub.companies.statement(actor=g.actor, nip=nip(), date_from=date_from, date_to=date_to)
    except HubError as e:
        problem = polish(e)
    else:
        entries = list(_with_balances(statement))
        if newest_first(form):
            entries.reverse()
        shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render_template(
        "company/statement.html",
        form=form,
        statement=statement,
        problem=problem,
        date_from=date_from,
        date_to=date_to,
        entries=shown,
        number=page,
        pages=pages(len(statement.entries)) if statement else 1,
        query=_query(),
    )


def _with_balances(statement):
    """Each entry with the available balance after it and a title a person reads."""
    balance = statement.opening_balance_grosze
    for e in statement.entries:
        balance += e.amount_grosze
        yield e, balance, statement_title_pl(e.kind, e.coupon_id, e.reference)


def _query() -> dict[str, str]:
    """This list's filters and order, for the pager's links."""
    return {k: v for k, v in request.args.items() if k != "strona" and v}


def _office_names() -> dict[str, str]:
    return {o.code: o.name for o in hub_of().config.offices}
