"""The ops tests reuse the real hub over HTTP (tests/services/conftest.py), and serve
more hubs of their own on a config folder when a test changes the config."""

from __future__ import annotations

import threading
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest

from hub.app import create_app
from hub.config import load_config
from tests.services.conftest import _Quiet, _ThreadingServer, coupon, running_hub  # noqa: F401  (fixtures)


@pytest.fixture
def serve():
    """serve(config_dir) -> base URL of a hub on that config (read now, as at a restart)."""
    servers = []

    def start(config_dir: Path) -> str:
        app = create_app(load_config(config_dir))
        server = make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, app))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, app in servers:
        server.shutdown()
        server.server_close()
        app.hub.close()
