"""The ops tests use the real hub over HTTP (`running_hub`, tests/conftest.py), and serve
more hubs of their own on a config folder when a test changes the config."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.support.wsgi import serving


@pytest.fixture
def serve():
    """serve(config_dir) -> base URL of a hub on that config (read now, as at a restart)."""
    with ExitStack() as servers:
        yield lambda config_dir: servers.enter_context(serving(config_dir)).url
