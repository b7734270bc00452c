"""The WSGI application of `hub serve`: every endpoint by path. It only routes; the
endpoints, the portal and ops are built by the composition root (hub.app.application)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from hub.ops import OPS_PATHS
from hub.portal import PORTAL_PREFIX
from hub.portal.app import FORM_BYTES_MAX
from hub.services.deadline import ReadDeadlines
from hub.services.endpoint import SoapEndpoint

Wsgi = Callable[[dict, Callable], Any]


class HubApplication:
    """Routes /soap/<service> to its endpoint and /portal/... to the web portal; anything else is 404."""

    def __init__(
        self,
        endpoints: Mapping[str, SoapEndpoint],
        portal: Wsgi,
        ops: Wsgi,
        body_timeout_s: float,
        body_deadlines: ReadDeadlines,
        hub: Any = None,
    ) -> None:
        """`body_timeout_s`, `body_deadlines`: a portal form's body is read within the
        same deadline as a SOAP request's (`[security] request_body_timeout_s`).
        `hub`: the Hub behind it, for whoever holds the application (tests, hooks)."""
        self.endpoints = endpoints
        self.portal = portal
        self.ops = ops  # /healthz, /readyz, /metrics
        self.body_timeout_s = body_timeout_s
        self.body_deadlines = body_deadlines
        self.hub = hub

    def __call__(self, environ: dict, start_response: Callable):
        if environ.get("PATH_INFO", "").startswith(PORTAL_PREFIX):
            return self._portal(environ, start_response)
        if environ.get("PATH_INFO", "").rstrip("/") in OPS_PATHS:
            return self.ops(environ, start_response)
        endpoint = self.endpoints.get(environ.get("PATH_INFO", "").rstrip("/"))
        if endpoint is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such endpoint; try /soap/office?wsdl\n"]
        return endpoint(environ, start_response)

    def _portal(self, environ: dict, start_response: Callable):
        """A form's body is read here within `request_body_timeout_s` (as SOAP's are in
        the endpoint), so a slow client cannot hold a worker thread; larger bodies are left
        to Flask, which refuses them (413) without reading."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= FORM_BYTES_MAX:
            timeout_s = self.body_timeout_s
            with self.body_deadlines.watch(environ.get("gunicorn.socket"), timeout_s) as watch:
                body = environ["wsgi.input"].read(length)
            if watch.expired:
                text = f"the request body did not arrive within {timeout_s:g} s\n".encode()
                start_response(
                    "408 Request Timeout",
                    [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))],
                )
                return [text]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.portal(environ, start_response)
