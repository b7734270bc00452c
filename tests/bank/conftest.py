"""Hubs whose hub.toml [bank] differs from the shipped one (the samples' foreign escrow account,
statement XSD validation); the helpers are in tests/support/bank.py."""

from __future__ import annotations

import pytest

from hub.adapters import camt_process
from hub.app import Hub
from tests.support.bank import SAMPLE_ACCOUNT, edit_bank
from tests.support.camt import DATA
from tests.support.factories import config_copy


@pytest.fixture
def configured_hub(tmp_path, db_url, db, clock):
    """configured_hub(escrow_account=..., statement_xsd_dir=...) -> a Hub on the test's database."""
    made = []

    def make(**settings: str) -> Hub:
        config_dir = config_copy(tmp_path / f"hub{len(made)}", db_url)
        made.append(Hub(edit_bank(config_dir, **settings), clock=clock, db=db))
        return made[-1]

    return make


@pytest.fixture
def sample_hub(configured_hub):
    """The escrow account is the samples' (a foreign IBAN in EUR: no company can be registered)."""
    return configured_hub(escrow_account=SAMPLE_ACCOUNT, currency="EUR")


@pytest.fixture
def xsd_hub(configured_hub):
    return configured_hub(statement_xsd_dir=str(DATA))


@pytest.fixture
def parsing_children(monkeypatch) -> list[camt_process._Child]:
    """Every process started to parse a document while the test runs (hub.adapters.camt_process);
    documents past 1 KiB go to one."""
    started: list[camt_process._Child] = []

    class Recorded(camt_process._Child):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(camt_process, "_Child", Recorded)
    monkeypatch.setattr(camt_process, "APART_BYTES_MIN", 1024)
    return started
