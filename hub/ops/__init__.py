"""Running the hub: health and readiness probes, Prometheus metrics, structured logs.

`ops_app(hub, identity)` serves `/healthz`, `/readyz` and `/metrics` beside the SOAP
endpoints (hub.services.wsgi routes `OPS_PATHS` to it; hub.app builds it).
"""

from __future__ import annotations

from collections.abc import Callable

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def ops_app(hub, identity) -> Callable:
    """WSGI handler of OPS_PATHS for one Hub (its database, its clock, its signing identity)."""
    from hub.ops import metrics
    from hub.ops.health import Readiness, health_app

    health = health_app(Readiness(hub.config.database.url, identity, hub.clock))

    def app(environ: dict, start_response: Callable):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        if environ.get("PATH_INFO", "").rstrip("/") == "/metrics":
            data = metrics.exposition(hub.db, hub.clock, hub.statements.escrow_account)
            start_response(
                "200 OK",
                [
                    ("Content-Type", metrics.CONTENT_TYPE),
                    ("Content-Length", str(len(data))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [data]
        return health(environ, start_response)

    return app
