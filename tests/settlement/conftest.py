"""A hub whose bank (and office 1465's FK system) is the fake bank, served over
real HTTP on 127.0.0.1 and signed both ways, with a clock the test moves
(the helpers are in tests/support/settlement.py)."""

from __future__ import annotations

import pytest

from hub.app import Hub
from hub.config import HubConfig, load_config
from hub.fakebank.server import FakeServer, partners_from_config
from tests.support import SHIPPED_CONFIG
from tests.support.clock import FakeClock
from tests.support.settlement import FK_CLIENT, Bank, configure


@pytest.fixture
def bank(tmp_path):
    partners = partners_from_config(load_config(SHIPPED_CONFIG), tmp_path / "fake-bank", fk_client=FK_CLIENT)
    server = FakeServer(partners).start()
    yield Bank(partners, server)
    server.stop()
    partners.close()


@pytest.fixture
def config(tmp_path, db_url, bank) -> HubConfig:
    return configure(tmp_path, db_url, bank.url)


@pytest.fixture
def hub(config, db, clock: FakeClock):
    return Hub(config, clock=clock, db=db)
