"""The portal's Flask application: configuration, session cookie, CSRF, security
headers, template filters, error pages, and the areas (one blueprint each).

Session: Flask's signed cookie (itsdangerous, HMAC with the key from
`[portal] secret_key_file`); no table. It holds the login, when the user logged
in, the CSRF token and flashed messages. The user's Actor is read afresh on every
request (`hub.users.actor`), so a role granted or revoked, or a deactivated
account, takes effect on the next page. The cookie is HttpOnly, SameSite=Lax,
Secure unless `cookie_secure = false`, limited to /portal, and expires after
`session_idle_s` without a request (the signature's timestamp is checked on the
server) and after `session_max_s` in any case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from hub import words
from hub.clock import WARSAW
from hub.config import PortalSettings
from hub.errors import ClientError, HubError, NotAuthorized, NotFound
from hub.ids import format_iban, format_nrb
from hub.portal import PORTAL_PREFIX
from hub.portal.words import ErrorPage, polish

if TYPE_CHECKING:  # hub.app builds the portal and hands it the Hub; the portal never imports it
    from hub.app import Hub

FORM_BYTES_MAX = 64 * 1024  # the largest form is the payment with its fee items

# Pages are made for this portal alone: no inline script, no framing, forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_portal(hub: Hub, settings: PortalSettings) -> Flask:
    """The portal of this Hub: its pages (one blueprint an area) and how they speak
    (the template filters: `FILTERS`, and the case types' names from the config)."""
    app = Flask("hub.portal")
    app.config.update(
        SECRET_KEY=settings.secret_key_file.read_bytes(),
        SESSION_COOKIE_NAME="hub_portal",
        SESSION_COOKIE_PATH=PORTAL_PREFIX,
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_idle_s),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=FORM_BYTES_MAX,
        WTF_CSRF_TIME_LIMIT=settings.session_max_s,
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,  # over https the Referer must be this portal too
        WTF_I18N_ENABLED=False,  # forms take WTForms' Polish messages from their Meta.locales (hub.portal.forms)
        PORTAL_SETTINGS=settings,
    )
    app.extensions["hub"] = hub
    CSRFProtect(app)

    from hub.portal import account, auth, cashdesk, company, reports, users

    for blueprint in (auth.bp, account.bp, company.bp, reports.bp, users.bp, cashdesk.bp):
        app.register_blueprint(blueprint)

    case_type_names = {t.code: t.name for t in hub.config.case_types}
    app.jinja_env.filters.update(FILTERS, case_type=lambda code: words.case_type_pl(code, case_type_names))
    app.jinja_env.globals.update(menu=auth.menu, plural=words.plural_pl, count_pl=words.count_pl)
    app.before_request(_held_while_recovering)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(HubError, _hub_error)
    app.register_error_handler(NotAuthorized, _not_authorized)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(403, _forbidden)
    app.register_error_handler(404, _missing)
    app.register_error_handler(405, _missing)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(500, _server_error)
    return app


def _held_while_recovering():
    """While the database is behind its message log archives (hub.audit.recovery) the portal,
    like the SOAP services, takes no changes: a form would take a receipt number or a coupon
    that `hub audit recover --apply` is about to give back. Signing in and out still works."""
    if (
        request.method == "POST"
        and request.endpoint not in ("auth.login", "auth.logout")
        and current_app.extensions["hub"].restore_guard.held()
    ):
        return _error(503, *ErrorPage.RESTORING)
    return None


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"  # balances and coupon ids stay out of shared caches
    return response


def _error(status: int, title: str, text: str):
    return render_template("error.html", title=title, text=text), status


def _csrf_refused(error: CSRFError):
    return _error(400, *ErrorPage.CSRF_REFUSED)


def _hub_error(error: HubError):
    """A domain error no view handled: the person's mistake is explained; anything
    else (a broken invariant, a config problem) is the hub's, logged and not shown."""
    if isinstance(error, ClientError):
        return _error(400, ErrorPage.FAILED, polish(error))
    current_app.logger.error("portal: %s %s failed", request.method, request.path, exc_info=error)
    return _server_error(error)


def _server_error(error):
    """Flask has already logged an unhandled exception before this page."""
    return _error(500, *ErrorPage.SERVER)


def _not_authorized(error: NotAuthorized):
    return _forbidden(error)


def _forbidden(error):
    return _error(403, *ErrorPage.FORBIDDEN)


def _not_found(error: NotFound):
    return _error(404, *ErrorPage.NOT_FOUND)


def _missing(error):
    return _error(error.code, *ErrorPage.NO_PAGE)


def _too_large(error):
    return _error(413, *ErrorPage.TOO_LARGE)


def _warsaw(at: datetime | None, part: str = "datetime") -> str:
    """An instant in Warsaw time: its date and time, its `day` or its `time` (HH:MM)."""
    if at is None:
        return ""
    if part == "day":
        return words.format_date_pl(at.astimezone(WARSAW).date())
    if part == "time":
        return at.astimezone(WARSAW).strftime("%H:%M")
    return words.format_datetime_pl(at)


# How pages write values (`{{ amount|pln }}`): in Polish, in Warsaw time, account numbers grouped.
FILTERS = {
    "pln": words.format_amount_pl,
    "warsaw": _warsaw,
    "day": words.format_date_pl,
    "nrb": format_nrb,
    "iban": format_iban,
    "status": words.coupon_status_pl,
    "entry_kind": words.statement_kind_pl,
    "method": words.payment_method_pl,
    "person": words.person_pl,
    "role": words.role_pl,
    "system": lambda code: words.label(words.SYSTEM, code),
}


def hub_of() -> Hub:
    """The Hub of this process (one per worker, built by hub.app)."""
    return current_app.extensions["hub"]
