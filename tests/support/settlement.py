"""The fake bank and FK system over real HTTP, a config whose bank and office 1465's FK
system are they, and the books checked the way every settlement test checks them."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hub.app import Hub
from hub.config import HubConfig, load_config
from hub.fakebank.server import FakePartners, FakeServer
from hub.ledger import Ledger
from tests.support import REPO
from tests.support.factories import OPERATOR, config_copy, funded_company, issue, redeem

FK_OFFICE = "1465"  # the office with an FK system in these tests
FK_CLIENT = "kasa-1465-01"  # the fake FK system signs as one of office 1465's own systems
DAY = date(2026, 3, 10)  # the clock fixture's day (09:30 UTC = 10:30 in Warsaw)
CAMT_XSD_DIR = REPO / "tests" / "data" / "iso20022"


@dataclass
class Bank:
    """The fake bank and FK system, and the address they serve at."""

    partners: FakePartners
    server: FakeServer

    @property
    def url(self) -> str:
        return self.server.url

    def control(self, **query: str) -> dict:
        params = "&".join(f"{k}={urllib.parse.quote(str(v))}" for k, v in query.items())
        with urllib.request.urlopen(f"{self.url}/control?{params}", timeout=10) as response:
            return json.loads(response.read())

    def transfers(self) -> dict[str, dict]:
        """What the bank's own records say, fetched over HTTP: EndToEndId -> transfer."""
        with urllib.request.urlopen(f"{self.url}/transfers", timeout=10) as response:
            return {t["end_to_end_id"]: t for t in json.loads(response.read())}

    def journals(self) -> dict[str, dict]:
        with urllib.request.urlopen(f"{self.url}/journals", timeout=10) as response:
            return {j["journal_id"]: j for j in json.loads(response.read())}

    def statement(self, day: date | None = None) -> bytes:
        query = f"?date={day.isoformat()}" if day else ""
        with urllib.request.urlopen(f"{self.url}/statement{query}", timeout=10) as response:
            return response.read()


def configure(tmp_path: Path, db_url: str, bank_url: str, fk: bool = True) -> HubConfig:
    """The shipped config on the test's database, its bank at the fake bank, office
    1465's FK system at the fake FK system, statements checked against the camt XSDs."""
    config_dir = config_copy(tmp_path, db_url)
    hub_toml = config_dir / "hub.toml"
    text = hub_toml.read_text()
    for old, new in (
        ('# endpoint = "http://127.0.0.1:8081/soap/bank"', f'endpoint = "{bank_url}/soap/bank"'),
        ('# statement_xsd_dir = "xsd/camt"', f'statement_xsd_dir = "{CAMT_XSD_DIR}"'),
    ):
        assert old in text
        text = text.replace(old, new)
    hub_toml.write_text(text)
    if fk:
        offices = config_dir / "offices.toml"
        text = offices.read_text()
        anchor = 'code = "1465"\n'
        assert anchor in text
        offices.write_text(text.replace(anchor, f'{anchor}fk_wsdl = "{bank_url}/soap/fk?wsdl"\n', 1))
    return load_config(config_dir)


def books_balance(hub: Hub) -> dict[str, int]:
    """Ledger.verify() holds and the trial balance sums to zero; returns each account's posted balance."""
    with hub.db.read() as session:
        ledger = Ledger(session)
        ledger.verify()
        rows = ledger.trial_balance()
    assert sum(b.debits_posted for _, _, b in rows) == sum(b.credits_posted for _, _, b in rows)
    assert sum(b.debits_pending for _, _, b in rows) == sum(b.credits_pending for _, _, b in rows)
    assert sum(b.posted for _, _, b in rows) == 0
    return {code: b.posted for code, _, b in rows}


E2E = "HUB-1465-20260310-1"


def settled(hub, clock, offices=("1465",)):
    """One REJ_NEW capture at each office on DAY, then DAY settled on the next morning."""
    funded_company(hub, 2000_00)
    coupons = [c.coupon_id for c in issue(hub, len(offices)).coupons]
    for coupon, office in zip(coupons, offices, strict=True):
        redeem(hub, coupon, office)
    clock.advance(days=1)
    return hub.settlements.settle(DAY, actor=OPERATOR)


def settlement(hub, e2e=E2E):
    return next(s for s in hub.settlements.list(actor=OPERATOR) if s.end_to_end_id == e2e)
