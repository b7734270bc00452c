"""Logging in and out, the user of each request, and what the menu offers.

The password check and the slowing down after failed attempts are the users
service's (`hub.users.authenticate`, `hub.users.throttle`); the portal passes the
client's address and shows one message for every refusal (so it tells nobody whether a
login exists or is locked), or how long to wait (429) while attempts are slowed down.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hub import access
from hub.errors import HubError, NotAuthorized
from hub.portal.app import hub_of
from hub.portal.forms import PortalForm
from hub.portal.words import LOGGED_OUT, LOGIN_REFUSED, SESSION_EXPIRED, Ask, Label, Menu, login_delayed
from hub.users.service import PASSWORD_CHARS_MAX, LoginDelayed

bp = Blueprint("auth", __name__)

LOGIN_KEY, SINCE_KEY = "login", "since"
USER_PREFIX = "user:"


def client_address() -> str:
    """The address of the person at the other end: the peer, or, when the peer is nginx on
    this machine (loopback), the address nginx appended last to X-Forwarded-For. A client
    connecting from elsewhere cannot choose its address by sending that header."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    try:
        if forwarded and ipaddress.ip_address(peer).is_loopback:
            return str(ipaddress.ip_address(forwarded))
    except ValueError:
        pass
    return peer


class LoginForm(PortalForm):
    login = StringField(
        Label.LOGIN,
        validators=[DataRequired(Ask.LOGIN), Length(max=100)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        Label.PASSWORD,
        validators=[DataRequired(Ask.PASSWORD), Length(max=PASSWORD_CHARS_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


# -- the user of this request ---------------------------------------------------


@bp.before_app_request
def load_user() -> None:
    """g.actor: the logged-in user's Actor, read afresh (roles, active) every request."""
    g.actor = None
    g.login = None
    login = session.get(LOGIN_KEY)
    if login is None:
        return
    settings = current_app.config["PORTAL_SETTINGS"]
    if time.time() - session.get(SINCE_KEY, 0) > settings.session_max_s:
        session.clear()
        flash(SESSION_EXPIRED, "info")
        return
    try:
        g.actor = hub_of().users.actor(login)
    except HubError:  # deleted or deactivated meanwhile
        session.clear()
        return
    g.login = login


def login_required(permission: str | None = None, *, area: str | None = None):
    """The view needs a logged-in user; `permission`: one the user holds;
    `area`: "company" (a company's user) or "office" (an office's user)."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            actor = g.actor
            if actor is None:
                here = request.script_root + request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("auth.login", next=here))
            if area == "company" and actor.company_nip is None:
                abort(403)
            if area == "office" and not actor.offices:
                abort(403)
            if permission is not None and not actor.may(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def office_code() -> str:
    """The office of an office user (a user belongs to exactly one)."""
    return sorted(g.actor.offices)[0]


# -- the menu -----------------------------------------------------------------


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str
    permission: str | None
    area: str  # company | office | any


MENU = (
    MenuItem("company.dashboard", Menu.DASHBOARD, None, "company"),
    MenuItem("company.issue", Menu.ISSUE, access.COUPONS_ISSUE, "company"),
    MenuItem("company.batches", Menu.BATCHES, access.COUPONS_READ, "company"),
    MenuItem("company.coupons", Menu.COUPONS, access.COUPONS_READ, "company"),
    MenuItem("company.statement", Menu.STATEMENT, access.STATEMENT_READ, "company"),
    MenuItem("cashdesk.new_payment", Menu.NEW_PAYMENT, access.PAYMENTS_REGISTER, "office"),
    MenuItem("cashdesk.payments", Menu.PAYMENTS, access.PAYMENTS_READ, "office"),
    MenuItem("cashdesk.close_day", Menu.CLOSE_DAY, access.DESK_CLOSE, "office"),
    MenuItem("cashdesk.daily_report", Menu.CASH_REPORT, access.REPORTS_READ, "office"),
    MenuItem("reports.index", Menu.REPORTS, access.REPORTS_READ, "any"),
    MenuItem("users.index", Menu.USERS, access.USERS_MANAGE, "any"),
    MenuItem("account.index", Menu.ACCOUNT, None, "any"),
)


def menu() -> list[MenuItem]:
    actor = g.get("actor")
    if actor is None:
        return []
    area = "company" if actor.company_nip else "office"
    return [m for m in MENU if m.area in (area, "any") and (m.permission is None or actor.may(m.permission))]


# -- views ----------------------------------------------------------------------


@bp.route("/")
def home():
    if g.actor is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("company.dashboard" if g.actor.company_nip else "cashdesk.home"))


@bp.route("/logowanie", methods=["GET", "POST"])
def login():
    form = LoginForm()
    refused, status, headers = None, 200, {}
    if form.validate_on_submit():
        try:
            user = hub_of().users.authenticate(form.login.data, form.password.data, client_address())
        except LoginDelayed as delayed:
            refused, status, headers = (login_delayed(delayed.wait_s), 429, {"Retry-After": str(delayed.wait_s)})
        except NotAuthorized:
            refused, status = LOGIN_REFUSED, 401
        else:
            from hub.portal.account import after_password

            return after_password(user.name.removeprefix(USER_PREFIX), start_session)
    return render_template("login.html", form=form, refused=refused), status, headers


def start_session(login_name: str):
    """The user is in (password, and the code where one is needed)."""
    session.clear()  # a fresh session (and CSRF token) for the new user
    session[LOGIN_KEY] = login_name
    session[SINCE_KEY] = time.time()
    session.permanent = True
    hub_of().accounts.record_login(login_name, client_address())
    return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))


@bp.route("/wyloguj", methods=["POST"])
def logout():
    if g.actor is not None:
        hub_of().accounts.record_logout(g.actor, client_address())
    session.clear()
    flash(LOGGED_OUT, "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only a path inside this portal: never another site (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(request.script_root + "/") or target.startswith("//"):
        return None
    return target
