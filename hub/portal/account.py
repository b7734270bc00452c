"""One's own account: the second step of a login (a code from the app or a
recovery code), changing one's password, and turning the second factor on.

The rules are the accounts service's (hub.users.accounts): who needs a second
factor, what a code is worth, how failures slow further attempts down. This page only asks it, and keeps a
user who must change a password or enrol from every other page (`gate`).
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from hub.errors import HubError, NotAuthorized
from hub.portal.app import hub_of
from hub.portal.forms import PortalForm
from hub.portal.payment_qr import qr_svg
from hub.portal.words import (
    CODE_REFUSED,
    CURRENT_PASSWORD_REFUSED,
    LOG_IN_AGAIN,
    PASSWORD_CHANGED,
    Ask,
    Label,
    login_delayed,
    password_length,
    polish,
)
from hub.users.service import PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, LoginDelayed

bp = Blueprint("account", __name__, url_prefix="/konto")

PENDING_KEY, PENDING_SINCE_KEY = "pending_login", "pending_since"
PENDING_S_MAX = 300  # the code must follow the password within five minutes
# Pages a user who must change the password or enrol may still open
OPEN_ENDPOINTS = frozenset(
    {"static", "auth.login", "auth.logout", "account.second_factor", "account.password", "account.enrol"}
)


class CodeForm(PortalForm):
    code = StringField(
        Label.CODE_OR_RECOVERY,
        validators=[DataRequired(Ask.CODE), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )


class PasswordForm(PortalForm):
    current = PasswordField(
        Label.CURRENT_PASSWORD,
        validators=[DataRequired(Ask.CURRENT_PASSWORD), Length(max=PASSWORD_CHARS_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        Label.NEW_PASSWORD,
        validators=[
            DataRequired(Ask.NEW_PASSWORD),
            Length(PASSWORD_CHARS_MIN, PASSWORD_CHARS_MAX, password_length(PASSWORD_CHARS_MIN, PASSWORD_CHARS_MAX)),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    repeat = PasswordField(
        Label.REPEAT_PASSWORD,
        validators=[DataRequired(Ask.REPEAT_PASSWORD), EqualTo("new", Ask.PASSWORDS_DIFFER)],
        render_kw={"autocomplete": "new-password"},
    )


class EnrolForm(PortalForm):
    code = StringField(
        Label.APP_CODE,
        validators=[DataRequired(Ask.APP_CODE), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


# -- the login's second step ---------------------------------------------------------


def after_password(login: str, start_session):
    """Called by the login page once the password is right: straight in, or first
    the code of a user with a second factor."""
    if not hub_of().accounts.state(login).second_factor_enabled:
        return start_session(login)
    session.clear()
    session[PENDING_KEY] = login
    session[PENDING_SINCE_KEY] = time.time()
    return redirect(url_for("account.second_factor", next=request.args.get("next")))


@bp.route("/kod", methods=["GET", "POST"])
def second_factor():
    from hub.portal.auth import client_address, start_session

    login = session.get(PENDING_KEY)
    if login is None or time.time() - session.get(PENDING_SINCE_KEY, 0) > PENDING_S_MAX:
        session.clear()
        flash(LOG_IN_AGAIN, "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    refused, status, headers = None, 200, {}
    if form.validate_on_submit():
        try:
            hub_of().accounts.verify_second_factor(login, form.code.data, client_address())
        except LoginDelayed as delayed:
            refused, status, headers = (login_delayed(delayed.wait_s), 429, {"Retry-After": str(delayed.wait_s)})
        except NotAuthorized:
            refused, status = CODE_REFUSED, 401
        else:
            return start_session(login)
    return render_template("account/code.html", form=form, refused=refused), status, headers


@bp.before_app_request
def gate():
    """A user who must change the password or enrol sees only those pages."""
    if g.get("actor") is None or request.endpoint in OPEN_ENDPOINTS:
        return None
    state = hub_of().accounts.state(g.login)
    if state.must_change_password:
        return redirect(url_for("account.password"))
    if state.must_enrol:
        return redirect(url_for("account.enrol"))
    return None


# -- the account page -------------------------------------------------------------


def _require_login():
    if g.get("actor") is None:
        return redirect(url_for("auth.login", next=request.script_root + request.path))
    return None


@bp.route("/", methods=["GET", "POST"])
@bp.route("/haslo", methods=["GET", "POST"], endpoint="password")
def index():
    if (away := _require_login()) is not None:
        return away
    hub = hub_of()
    form = PasswordForm()
    problem = None
    if form.validate_on_submit():
        try:
            hub.accounts.change_password(g.login, form.current.data, form.new.data)
        except NotAuthorized:
            problem = CURRENT_PASSWORD_REFUSED
        except HubError as e:
            problem = polish(e)
        else:
            flash(PASSWORD_CHANGED, "success")
            return redirect(url_for("auth.home"))
    state = hub.accounts.state(g.login)
    status = 400 if problem or form.errors else 200
    return render_template("account/index.html", form=form, problem=problem, state=state), status


@bp.route("/weryfikacja", methods=["GET", "POST"])
def enrol():
    if (away := _require_login()) is not None:
        return away
    hub = hub_of()
    state = hub.accounts.state(g.login)
    if state.second_factor_enabled:
        return render_template("account/enrol.html", state=state, form=None, codes=None)
    form = EnrolForm()
    problem, codes = None, None
    if form.validate_on_submit():
        try:
            codes = hub.accounts.confirm_enrolment(g.login, form.code.data.replace(" ", ""))
        except HubError as e:
            problem = polish(e)
        else:
            current_app.logger.info("portal: %s turned on the second factor", g.login)
            return render_template("account/enrol.html", state=hub.accounts.state(g.login), form=None, codes=codes)
    enrolment = hub.accounts.begin_enrolment(g.login)  # a fresh secret for every showing until one is confirmed
    qr = Markup(qr_svg(enrolment.uri, Label.ENROL_QR))
    return render_template(
        "account/enrol.html", state=state, form=form, problem=problem, qr=qr, secret=enrolment.secret, codes=None
    ), (400 if problem else 200)
