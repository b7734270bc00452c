"""The web portal (in Polish) for leasing company staff and office cashiers,
served by `hub serve` under `/portal`.

Pages only translate: they read a form, call a domain service of the `Hub` as the
logged-in user's `Actor`, and render the answer; every rule (permissions, money,
idempotency, the audit trail) stays in the domain. Flask and its templates live
here alone; `hub/services/wsgi.py` hands every `/portal` request to the `portal_app`
that hub.app built.
"""

from __future__ import annotations

from collections.abc import Callable

PORTAL_PREFIX = "/portal"

Wsgi = Callable[[dict, Callable], object]


def portal_app(hub) -> Wsgi:
    """The WSGI application answering under PORTAL_PREFIX: the Flask portal when
    hub.toml has a [portal] section, else a 404 saying how to turn it on."""
    settings = hub.config.portal
    if settings is None:
        return _not_configured
    from hub.portal.app import create_portal  # Flask is imported only where the portal is served

    return _Mounted(create_portal(hub, settings))


class _Mounted:
    """Moves PORTAL_PREFIX from PATH_INFO to SCRIPT_NAME, so the portal's links carry it."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if path == PORTAL_PREFIX:  # /portal -> /portal/
            start_response(
                "308 Permanent Redirect", [("Location", environ.get("SCRIPT_NAME", "") + PORTAL_PREFIX + "/")]
            )
            return [b""]
        if not path.startswith(PORTAL_PREFIX + "/"):
            return _not_found(environ, start_response)
        environ = {
            **environ,
            "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + PORTAL_PREFIX,
            "PATH_INFO": path[len(PORTAL_PREFIX) :],
        }
        return self.app(environ, start_response)


def _not_configured(environ: dict, start_response: Callable):
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    from hub.portal.words import PORTAL_OFF

    return [PORTAL_OFF.encode()]


def _not_found(environ: dict, start_response: Callable):
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"no such page\n"]
