"""Bank statement helpers: hub.toml's [bank] edited in a config copy, the samples' account,
the ledger checks every statement test repeats, and SubmitStatement posted signed."""

from __future__ import annotations

import re

from lxml import etree
from sqlalchemy import func, select

from hub import ns
from hub.audit.models import AuditEvent
from hub.bank.models import BankEntry, BankStatement
from hub.config import load_config
from hub.ledger import Ledger
from hub.ledger.models import LedgerTransfer
from hub.signing.sign import sign_envelope
from tests.support.camt import DATA
from tests.support.soap import SOAP

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
            tuple(session.execute(select(BankEntry.id, BankEntry.status).order_by(BankEntry.id)).all()),
        )


def audit_actions(hub, action: str) -> list[AuditEvent]:
    with hub.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def entries(hub) -> list[BankEntry]:
    with hub.db.read() as session:
        return list(session.scalars(select(BankEntry).order_by(BankEntry.id)))


def submit_envelope(document_text: str) -> etree._Element:
    envelope = etree.Element(SOAP + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "b": ns.BANK_IN})
    etree.SubElement(envelope, SOAP + "Header")
    request = etree.SubElement(etree.SubElement(envelope, SOAP + "Body"), f"{{{ns.BANK_IN}}}SubmitStatementRequest")
    etree.SubElement(request, f"{{{ns.BANK_IN}}}Document").text = document_text
    return envelope


def post_signed(running_hub, document_text: str, client_id="bank-escrow"):
    body = etree.tostring(sign_envelope(submit_envelope(document_text), running_hub.identity(client_id)))
    return running_hub.post(body, path="/soap/bank")
