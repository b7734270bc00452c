"""The WSGI application of `hub serve`: one Hub per process, every endpoint by path."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from hub import ns
from hub.app import Hub
from hub.audit.recovery import RestoreGuard
from hub.config import HubConfig, load_config
from hub.db.replay import DatabaseReplayCache
from hub.ops import OPS_PATHS, ops_app
from hub.portal import PORTAL_PREFIX, portal_app
from hub.portal.app import FORM_BYTES_MAX
from hub.services import bankin, cashdesk, company, office
from hub.services.deadline import ReadDeadlines
from hub.services.endpoint import Security, SoapEndpoint
from hub.signing.policy import SignaturePolicy
from hub.signing.trust import TrustStore


def security_of(hub: Hub) -> Security:
    config = hub.config
    return Security(
        trust=TrustStore.from_pem_files(config.clients),
        policy=SignaturePolicy(
            clock_skew_s=config.security.clock_skew_s,
            replay_window_s=config.security.replay_window_s,
        ),
        replay=DatabaseReplayCache(hub.db, hub.clock),
        identity=hub.identity,
        request_bytes_max=config.security.request_bytes_max,
        xml_depth_max=config.security.xml_depth_max,
        request_body_timeout_s=config.security.request_body_timeout_s,
        body_deadlines=ReadDeadlines(),
    )


def soap_endpoints(
    hub: Hub, security: Security, guard: RestoreGuard | None
) -> dict[str, SoapEndpoint]:
    """/soap/<service> -> its endpoint, serving `hub`'s services."""
    log, context = hub.message_log, {"hub": hub}
    return {
        "/soap/office": SoapEndpoint(
            "office",
            ns.OFFICE,
            [office.OfficeService],
            office.KINDS,
            security,
            log,
            hub.clock,
            context,
            guard,
        ),
        "/soap/bank": SoapEndpoint(
            "bankin",
            ns.BANK_IN,
            [bankin.BankInService],
            bankin.KINDS,
            security,
            log,
            hub.clock,
            context,
            guard,
        ),
        "/soap/company": SoapEndpoint(
            "company",
            ns.COMPANY,
            [company.CompanyService],
            company.KINDS,
            security,
            log,
            hub.clock,
            context,
            guard,
        ),
        "/soap/cashdesk": SoapEndpoint(
            "cashdesk",
            ns.CASHDESK,
            [cashdesk.CashDeskService],
            cashdesk.KINDS,
            security,
            log,
            hub.clock,
            context,
            guard,
        ),
    }


class HubApplication:
    """Routes /soap/<service> to its endpoint and /portal/... to the web portal; anything else is 404."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.security = security = security_of(hub)
        self.endpoints = soap_endpoints(hub, security, hub.restore_guard)
        self.portal = portal_app(hub)
        self.ops = ops_app(hub, security.identity)  # /healthz, /readyz, /metrics

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
            timeout_s = self.security.request_body_timeout_s
            with self.security.body_deadlines.watch(
                environ.get("gunicorn.socket"), timeout_s
            ) as watch:
                body = environ["wsgi.input"].read(length)
            if watch.expired:
                text = f"the request body did not arrive within {timeout_s:g} s\n".encode()
                start_response(
                    "408 Request Timeout",
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(text))),
                    ],
                )
                return [text]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.portal(environ, start_response)


def create_app(config: HubConfig | None = None) -> HubApplication:
    """For gunicorn: `hub.services.wsgi:create_app()`, config from $HUB_CONFIG."""
    if config is None:
        config = load_config(Path(os.environ.get("HUB_CONFIG", "config")))
    return HubApplication(Hub(config))
