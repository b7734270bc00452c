"""The cash desk (Kasa) of an office: register a payment for a case with its fee
items (the total and handling fee shown before confirming), the receipt PDF, the
desk's payments of the day, voiding with a supervisor, and closing the day in two
steps (count the cash, then confirm the difference) with the daily cash report.
A desk whose day is closed is named on the payment form before a payment starts."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from hub import access
from hub.cashdesk.listing import desk_day_payments
from hub.cashdesk.models import CARD, CASH
from hub.cashdesk.service import (
    CASE_NUMBER_CHARS_MAX,
    ITEMS_COUNT_MAX,
    LATE_CLOSE_DAYS_MAX,
    PAYER_ADDRESS_CHARS_MAX,
    PAYER_NAME_CHARS_MAX,
    PERSON_CHARS_MAX,
    REASON_CHARS_MAX,
    ItemRequest,
    valid_card_auth_code,
)
from hub.clock import business_day
from hub.config import SYSTEMS, Fee, Office
from hub.errors import HubError, InvalidRequest, NotAuthorized
from hub.money import AmountError, parse_grosze
from hub.portal.app import hub_of
from hub.portal.auth import client_address, login_required, office_code
from hub.portal.forms import CountField, FilterForm, PortalForm, day_field, newest_first, options, order_field
from hub.portal.words import (
    CLOSE_FORM_INCOMPLETE,
    DAY_NOT_YET,
    NO_FEE_CHOSEN,
    NOT_AN_AMOUNT_COUNTED,
    SUPERVISOR_NEEDED,
    SUPERVISOR_REFUSED,
    Label,
    card_auth_problem,
    day_closed,
    desk_closed,
    desk_label,
    late_day_needs_consent,
    login_delayed,
    payment_taken,
    payment_voided,
    polish,
    too_many_fees,
)
from hub.users.service import LoginDelayed
from hub.words import PAYMENT_METHOD, SYSTEM_LONG

bp = Blueprint("cashdesk", __name__, url_prefix="/kasa")

DESK_KEY = "desk"
METHOD_NAMES = PAYMENT_METHOD
SYSTEM_NAMES = SYSTEM_LONG
REQUEST_ID = [InputRequired(), Regexp(r"^[0-9a-f-]{36}$")]


def office() -> Office:
    return hub_of().config.office(office_code())


def today() -> date:
    return business_day(hub_of().clock())


def desk() -> str:
    """The desk this user sits at (chosen on the payment form, kept in the session)."""
    desks = office().desks
    chosen = session.get(DESK_KEY)
    return chosen if chosen in desks else desks[0]


def fees_in_force() -> list[Fee]:
    return hub_of().cashdesk.fees_in_force(today())


# -- registering a payment -----------------------------------------------------------


class PaymentForm(PortalForm):
    desk = SelectField(Label.DESK, validators=[InputRequired()])
    system = SelectField(
        Label.SYSTEM, choices=options((s, SYSTEM_NAMES[s]) for s in SYSTEMS), validators=[InputRequired()]
    )
    case_number = StringField(
        Label.CASE_NUMBER,
        validators=[InputRequired(), Length(max=CASE_NUMBER_CHARS_MAX)],
        render_kw={"autocomplete": "off"},
    )
    method = RadioField(
        Label.METHOD,
        choices=options([(CASH, METHOD_NAMES[CASH]), (CARD, METHOD_NAMES[CARD])]),
        default=CASH,
        validators=[InputRequired()],
    )
    card_auth_code = StringField(Label.CARD_AUTH_CODE, render_kw={"autocomplete": "off"})
    payer_name = StringField(
        Label.PAYER_NAME, validators=[Optional(), Length(max=PAYER_NAME_CHARS_MAX)], render_kw={"autocomplete": "off"}
    )
    payer_address = StringField(
        Label.PAYER_ADDRESS,
        validators=[Optional(), Length(max=PAYER_ADDRESS_CHARS_MAX)],
        render_kw={"autocomplete": "off"},
    )

    def validate_card_auth_code(self, field) -> None:
        """Required for a card, refused for cash (an Optional() would skip this check when empty)."""
        if self.method.data not in (CASH, CARD):
            return  # the method's own field says what is wrong
        try:
            valid_card_auth_code(self.method.data, field.data)
        except InvalidRequest:
            raise ValidationError(card_auth_problem(self.method.data, field.data)) from None

    def fee_fields(self):
        return [(fee, self[f"fee_{fee.code}"]) for fee in self.fees]

    def items(self) -> list[ItemRequest]:
        return [ItemRequest(fee.code) for fee, f in self.fee_fields() for _ in range(f.data or 0)]

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        count = sum(f.data or 0 for _, f in self.fee_fields())
        if ok and count == 0:
            self.items_error = NO_FEE_CHOSEN
            return False
        if ok and count > ITEMS_COUNT_MAX:
            self.items_error = too_many_fees(ITEMS_COUNT_MAX)
            return False
        return ok


def payment_form(confirm: bool = False, **kwargs) -> PaymentForm:
    """The form with one quantity field per fee in force today."""
    fees = fees_in_force()
    attrs = {
        f"fee_{fee.code}": CountField(fee.name, default=0, validators=[Optional(), NumberRange(0, ITEMS_COUNT_MAX)])
        for fee in fees
    }
    if confirm:
        attrs["request_id"] = HiddenField(validators=REQUEST_ID)
    form_class = type("DeskPaymentForm", (PaymentForm,), attrs)
    form = form_class(**kwargs)
    form.fees = fees
    form.count_max = ITEMS_COUNT_MAX
    form.items_error = None
    form.desk.choices = options((d, desk_label(d)) for d in office().desks)
    if form.desk.data is None:
        form.desk.data = desk()
    return form


def _totals(form: PaymentForm) -> dict:
    counts = {fee.code: f.data or 0 for fee, f in form.fee_fields()}
    quote = hub_of().cashdesk.quote(office_code(), form.method.data, counts)
    return {"items": quote.items_grosze, "handling": quote.handling_fee_grosze, "total": quote.total_grosze}


@bp.route("/")
@login_required(area="office")
def home():
    if g.actor.may(access.PAYMENTS_REGISTER):
        return redirect(url_for("cashdesk.new_payment"))
    if g.actor.may(access.PAYMENTS_READ):
        return redirect(url_for("cashdesk.payments"))
    if g.actor.may(access.USERS_MANAGE):
        return redirect(url_for("users.index"))
    abort(403)


def closed_desks() -> dict:
    """The office's desks whose today is closed: desk id -> ClosedDay."""
    hub, day = hub_of(), today()
    found = {
        d: hub.cashdesk.closed_day(office_code=office_code(), desk_id=d, day=day, actor=g.actor) for d in office().desks
    }
    return {d: closed for d, closed in found.items() if closed is not None}


def closed_desk_problem(desk_id: str, closed: dict) -> str | None:
    if desk_id not in closed:
        return None
    return desk_closed(today(), desk_id, closed[desk_id].report_id)


@bp.route("/wplata", methods=["GET", "POST"])
@login_required(access.PAYMENTS_REGISTER, area="office")
def new_payment():
    form = payment_form()
    closed = closed_desks()  # named above the form already: a problem only once the cashier goes on
    problem = closed_desk_problem(form.desk.data, closed) if request.method == "POST" else None
    if form.validate_on_submit() and problem is None:
        session[DESK_KEY] = form.desk.data
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        confirm = payment_form(confirm=True, formdata=None, data={**data, "request_id": str(uuid.uuid4())})
        lines = [(fee, f.data) for fee, f in form.fee_fields() if f.data]
        return render_template(
            "cashdesk/confirm.html",
            form=confirm,
            lines=lines,
            totals=_totals(form),
            office=office(),
            method_names=METHOD_NAMES,
            system_names=SYSTEM_NAMES,
        )
    return render_template(
        "cashdesk/payment.html", form=form, office=office(), totals=_totals(form), problem=problem, closed_desks=closed
    ), (400 if request.method == "POST" else 200)


@bp.route("/wplata/potwierdz", methods=["POST"])
@login_required(access.PAYMENTS_REGISTER, area="office")
def confirm_payment():
    hub = hub_of()
    form = payment_form(confirm=True)
    if not form.validate_on_submit():
        return render_template(
            "cashdesk/payment.html", form=form, office=office(), totals=_totals(form), closed_desks=closed_desks()
        ), 400
    try:
        paid = hub.cashdesk.register(
            request_id=form.request_id.data,
            office_code=office_code(),
            desk_id=form.desk.data,
            cashier=g.login[:PERSON_CHARS_MAX],
            system=form.system.data,
            case_number=form.case_number.data,
            method=form.method.data,
            items=form.items(),
            card_auth_code=form.card_auth_code.data or None,
            payer_name=form.payer_name.data,
            payer_address=form.payer_address.data,
            actor=g.actor,
        )
    except HubError as e:
        return render_template(
            "cashdesk/payment.html",
            form=form,
            office=office(),
            totals=_totals(form),
            problem=polish(e),
            closed_desks=closed_desks(),
        ), 400
    flash(payment_taken(paid.receipt_number, paid.total_grosze), "success")
    return redirect(url_for("cashdesk.payment", payment_id=paid.payment_id))


# -- payments, receipts, voiding ---------------------------------------------------------


class VoidForm(PortalForm):
    request_id = HiddenField(validators=REQUEST_ID)
    reason = TextAreaField(Label.VOID_REASON, validators=[InputRequired(), Length(max=REASON_CHARS_MAX)])
    supervisor = StringField(
        Label.SUPERVISOR_LOGIN, validators=[Optional(), Length(max=PERSON_CHARS_MAX)], render_kw={"autocomplete": "off"}
    )
    supervisor_password = PasswordField(
        Label.SUPERVISOR_PASSWORD, validators=[Optional(), Length(max=256)], render_kw={"autocomplete": "off"}
    )


class DeskFilter(FilterForm):
    desk = SelectField(Label.DESK, validators=[Optional()])
    day = day_field(Label.DAY, validators=[Optional()])
    order = order_field()


def _desk_filter() -> DeskFilter:
    form = DeskFilter()
    form.desk.choices = options((d, desk_label(d)) for d in office().desks)
    form.validate()
    if form.desk.data not in office().desks:
        form.desk.data = desk()
    if form.day.data is None:
        form.day.data = today()
    return form


@bp.route("/wplaty")
@login_required(access.PAYMENTS_READ, area="office")
def payments():
    form = _desk_filter()
    records = desk_day_payments(
        hub_of().cashdesk, office_code=office_code(), desk_id=form.desk.data, day=form.day.data, actor=g.actor
    )
    if newest_first(form):  # as every list of the portal; the receipt numbers run the other way
        records = list(reversed(records))
    return render_template(
        "cashdesk/payments.html", form=form, payments=records, method_names=METHOD_NAMES, office=office(), today=today()
    )


@bp.route("/wplaty/<payment_id>")
@login_required(access.PAYMENTS_READ, area="office")
def payment(payment_id: str, void_form: VoidForm | None = None, problem: str | None = None, status: int = 200):
    record = hub_of().cashdesk.payment(payment_id, g.actor)
    if void_form is None:
        void_form = VoidForm(formdata=None, request_id=str(uuid.uuid4()))
    voidable = record.voided_at is None and record.business_day == today()
    return render_template(
        "cashdesk/payment_detail.html",
        payment=record,
        void_form=void_form,
        voidable=voidable,
        problem=problem,
        self_supervisor=g.actor.may(access.PAYMENTS_VOID),
        method_names=METHOD_NAMES,
        system_names=SYSTEM_NAMES,
        office=office(),
    ), status


@bp.route("/wplaty/<payment_id>/potwierdzenie.pdf")
@login_required(access.PAYMENTS_READ, area="office")
def receipt(payment_id: str):
    record = hub_of().cashdesk.payment(payment_id, g.actor)
    pdf = hub_of().cashdesk.receipt_pdf(payment_id, g.actor)
    name = record.receipt_number.replace("/", "-")
    return Response(
        pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
    )


@bp.route("/wplaty/<payment_id>/uniewaznij", methods=["POST"])
@login_required(area="office")
def void(payment_id: str):
    """A supervisor voids: the logged-in user if they may, else the supervisor
    who types their own login and password at this desk (checked and slowed down
    after failures like any login)."""
    hub = hub_of()
    form = VoidForm()
    if not form.validate_on_submit():
        return payment(payment_id, void_form=form, status=400)
    if g.actor.may(access.PAYMENTS_VOID):
        supervisor, acting = g.login, g.actor
    else:
        if not form.supervisor.data or not form.supervisor_password.data:
            return payment(payment_id, void_form=form, problem=SUPERVISOR_NEEDED, status=400)
        try:
            acting = hub.users.authenticate(form.supervisor.data, form.supervisor_password.data, client_address())
        except LoginDelayed as delayed:
            return payment(payment_id, void_form=form, problem=login_delayed(delayed.wait_s), status=429)
        except NotAuthorized:
            return payment(payment_id, void_form=form, problem=SUPERVISOR_REFUSED, status=403)
        supervisor = acting.name.removeprefix("user:")
    try:
        hub.cashdesk.void(
            request_id=form.request_id.data,
            payment_id=payment_id,
            reason=form.reason.data,
            supervisor=supervisor,
            actor=acting,
        )
    except HubError as e:
        return payment(payment_id, void_form=form, problem=polish(e), status=400)
    flash(payment_voided(supervisor), "success")
    return redirect(url_for("cashdesk.payment", payment_id=payment_id))


# -- closing the day and the daily cash report -----------------------------------------------


class CloseDayForm(PortalForm):
    """Step 1: the desk, the day and the cash counted in the drawer."""

    desk = SelectField(Label.DESK, validators=[InputRequired()])
    day = day_field(Label.DAY, validators=[InputRequired()])
    counted = StringField(
        Label.COUNTED_CASH,
        validators=[InputRequired(), Length(max=20)],
        render_kw={"autocomplete": "off", "inputmode": "decimal"},
    )

    def validate_counted(self, field) -> None:
        try:
            self.counted_grosze = parse_grosze(
                (field.data or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
            )
        except AmountError:
            raise ValidationError(NOT_AN_AMOUNT_COUNTED) from None

    def validate_day(self, field) -> None:
        if field.data is not None and field.data > today():
            raise ValidationError(DAY_NOT_YET)


class CloseConfirmForm(CloseDayForm):
    """Step 2: the count confirmed, with the explicit consent a day more than one day back needs."""

    request_id = HiddenField(validators=REQUEST_ID)
    force = BooleanField(Label.LATE_CLOSE_CONSENT)


def _close_form(form_class):
    form = form_class()
    form.desk.choices = options((d, desk_label(d)) for d in office().desks)
    return form


def _is_late(day: date) -> bool:
    return today() - day > timedelta(days=LATE_CLOSE_DAYS_MAX)


def _count_page(form: CloseDayForm, problem: str | None = None):
    hub = hub_of()
    desk_id = form.desk.data if form.desk.data in office().desks else desk()
    day = form.day.data if isinstance(form.day.data, date) and form.day.data <= today() else today()
    report = (
        hub.cashdesk.cash_report(office_code=office_code(), desk_id=desk_id, day=day, actor=g.actor)
        if g.actor.may(access.REPORTS_READ)
        else None
    )
    status = 400 if problem or form.errors else 200
    return render_template(
        "cashdesk/close_day.html", form=form, report=report, problem=problem, today=today(), method_names=METHOD_NAMES
    ), status


@bp.route("/zamkniecie", methods=["GET", "POST"])
@login_required(access.DESK_CLOSE, area="office")
def close_day():
    """Step 1: count the cash. A POST compares it with the day's cash payments and asks to confirm."""
    form = _close_form(CloseDayForm)
    if request.method == "GET":
        form.desk.data = request.args.get("desk") if request.args.get("desk") in office().desks else desk()
        form.day.data = today()
        return _count_page(form)
    if not form.validate():
        return _count_page(form)
    expected = hub_of().cashdesk.expected_cash(
        office_code=office_code(), desk_id=form.desk.data, day=form.day.data, actor=g.actor
    )
    confirm = _close_form(CloseConfirmForm)
    confirm.request_id.data = str(uuid.uuid4())
    return render_template(
        "cashdesk/close_confirm.html",
        form=confirm,
        desk_id=form.desk.data,
        day=form.day.data,
        counted=form.counted_grosze,
        expected=expected,
        difference=form.counted_grosze - expected,
        late=_is_late(form.day.data),
        supervisor=g.login,
    )


@bp.route("/zamkniecie/potwierdz", methods=["POST"])
@login_required(access.DESK_CLOSE, area="office")
def close_day_confirm():
    """Step 2: close with the count. A difference is confirmed by the supervisor closing
    (only supervisors may close); an older day needs the explicit consent."""
    form = _close_form(CloseConfirmForm)
    if not form.validate():
        return _count_page(form, CLOSE_FORM_INCOMPLETE)
    late = _is_late(form.day.data)
    if late and not form.force.data:
        return _count_page(form, late_day_needs_consent(form.day.data))
    supervisor = g.login[:PERSON_CHARS_MAX] if g.actor.may(access.PAYMENTS_VOID) else None
    try:
        closed = hub_of().cashdesk.close_day(
            request_id=form.request_id.data,
            office_code=office_code(),
            desk_id=form.desk.data,
            day=form.day.data,
            actor=g.actor,
            counted_cash_grosze=form.counted_grosze,
            supervisor=supervisor,
            force=late,
        )
    except HubError as e:
        return _count_page(form, polish(e))
    difference = closed.count.difference_grosze if closed.count else 0
    flash(day_closed(closed.day, closed.desk_id, closed.report_id, difference), "success")
    return redirect(url_for("cashdesk.daily_report", desk=closed.desk_id, day=closed.day.isoformat()))


@bp.route("/raport")
@login_required(access.REPORTS_READ, area="office")
def daily_report():
    form = _desk_filter()
    report = hub_of().cashdesk.cash_report(
        office_code=office_code(), desk_id=form.desk.data, day=form.day.data, actor=g.actor
    )
    return render_template("cashdesk/daily_report.html", form=form, report=report, method_names=METHOD_NAMES)


@bp.route("/raport.pdf")
@login_required(access.REPORTS_READ, area="office")
def daily_report_pdf():
    form = _desk_filter()
    desk = hub_of().cashdesk
    report = desk.cash_report(office_code=office_code(), desk_id=form.desk.data, day=form.day.data, actor=g.actor)
    name = f"raport-kasowy-{report.office.code}-{report.desk_id}-{report.day.isoformat()}.pdf"
    return Response(
        desk.cash_report_pdf(report),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
