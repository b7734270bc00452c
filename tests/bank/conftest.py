"""Hubs whose hub.toml [bank] differs from the shipped one (the samples' foreign escrow account,
statement XSD validation), and the ledger checks every statement test repeats."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.app import Hub
from hub.audit.models import AuditEvent
from hub.bank.models import BankEntry, BankStatement
from hub.config import load_config
from hub.ledger import Ledger
from hub.ledger.models import LedgerTransfer
from tests.bank.camt_builder import DATA
from tests.factories import config_copy

SAMPLE_ACCOUNT = "NL26VAYB8060476890"  # both samples' statement account


def balanced_sample(name: str) -> bytes:
    """A published sample with its closing booked balance made to add up: as published, its
    CLBD is 27.00 SEK debit after an opening of 18.15 EUR credit and one credit of 8.85 EUR
    (the published test file shows every balance type, not a real statement)."""
    data = (DATA / name).read_bytes()
    fixed, n = re.subn(
        rb'<Amt Ccy="SEK">27.00</Amt>(\s*)<CdtDbtInd>DBIT</CdtDbtInd>',
        rb'<Amt Ccy="EUR">27.00</Amt>\1<CdtDbtInd>CRDT</CdtDbtInd>',
        data,
        count=1,
    )
    assert n == 1
    return fixed


def edit_bank(config_dir, **settings: str):
    """Set keys of hub.toml's [bank] table in a config copy (replacing or adding the line)."""
    hub_toml = config_dir / "hub.toml"
    text = hub_toml.read_text()
    for key, value in settings.items():
        line = f'{key} = "{value}"'
        text, n = re.subn(rf"(?m)^#?\s*{key} = .*$", line, text, count=1)
        if n == 0:
            text = text.replace("[bank]\n", f"[bank]\n{line}\n")
    hub_toml.write_text(text)
    return load_config(config_dir)


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


def ledger_holds(hub) -> None:
    """Ledger.verify() holds and the trial balance is zero: every account's debits less
    credits, posted and pending, add up to nothing."""
    with hub.db.read() as session:
        ledger = Ledger(session)
        ledger.verify()
        balances = [b for _, _, b in ledger.trial_balance()]
    assert sum(b.debits_posted - b.credits_posted for b in balances) == 0
    assert sum(b.debits_pending - b.credits_pending for b in balances) == 0


def balance(hub, code: str) -> int:
    """Posted credits less debits (what a company owns; the negative of an asset's balance)."""
    with hub.db.read() as session:
        return Ledger(session).balance(code).posted


def snapshot(hub) -> tuple:
    """Everything an import may write, counted; and every entry's status."""
    with hub.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(BankStatement)),
            session.scalar(select(func.count()).select_from(BankEntry)),
            session.scalar(select(func.count()).select_from(LedgerTransfer)),
            tuple(
                session.execute(select(BankEntry.id, BankEntry.status).order_by(BankEntry.id)).all()
            ),
        )


def audit_actions(hub, action: str) -> list[AuditEvent]:
    with hub.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def entries(hub) -> list[BankEntry]:
    with hub.db.read() as session:
        return list(session.scalars(select(BankEntry).order_by(BankEntry.id)))
