"""A real hub on 127.0.0.1 whose config also has a cash desk client of another office
(the helpers are in tests/support/cashdesk.py)."""

from __future__ import annotations

import pytest

from tests.support.cashdesk import add_other_kasa
from tests.support.factories import config_copy
from tests.support.wsgi import serving


@pytest.fixture
def cashdesk_hub(tmp_path, db_url):
    """A RunningHub over the shipped config plus `kasa-1261-01`, issued by the dev CA."""
    config_dir = config_copy(tmp_path, db_url)
    add_other_kasa(config_dir)
    with serving(config_dir) as running:
        yield running
