"""Acceptance: a statement tops a company up, coupons are issued and redeemed at two
offices over signed SOAP, the day is settled and sent to the fake bank, the bank's
statement comes back by SubmitStatement and books the settlements. Every call crosses
real HTTP, signed both ways; the ledger balances and verifies after every step."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import zeep
from cryptography import x509

from hub.app import Hub, application
from hub.audit.messagelog import MessageLog
from hub.clock import business_day
from hub.fakebank.server import FakeServer
from hub.settlement.models import BOOKED, CARRIED, SENT
from hub.signing.keys import SigningIdentity
from hub.signing.zeep_plugin import HubSignature
from tests.support.clock import FakeClock
from tests.support.factories import NIP, OPERATOR
from tests.support.settlement import books_balance, configure


@pytest.fixture
def served(tmp_path, db, bank):
    """The hub's own SOAP endpoints on 127.0.0.1 (on the real clock: signatures are
    checked against it), and the operator's hub on the same database, on a clock that
    runs a day ahead: the morning after, when the day is settled."""
    config = configure(tmp_path, db.url, bank.url)
    server = FakeServer(application(Hub(config, db=db))).start()
    operator_hub = Hub(config, clock=FakeClock(datetime.now(UTC) + timedelta(days=1)), db=db)
    yield operator_hub, server.url
    server.stop()


def soap_client(hub: Hub, url: str, client_id: str):
    keys = hub.config.config_dir / "keys"
    identity = SigningIdentity.load(keys / f"{client_id}.key", keys / f"{client_id}.crt")
    hub_cert = x509.load_pem_x509_certificate(hub.config.signing.cert.read_bytes())
    settings = zeep.Settings(forbid_dtd=True, forbid_entities=True)
    return zeep.Client(url + "?wsdl", wsse=HubSignature.pinned(identity, hub_cert, "hub"), settings=settings).service


def submit_statement(hub: Hub, url: str, document: bytes):
    """The bank hands its statement in as the BANK client would."""
    return soap_client(hub, f"{url}/soap/bank", "bank-escrow").SubmitStatement(
        Document=base64.b64encode(document).decode()
    )


def redeem(service, coupon: str, office: str, case_number: str, amount: Decimal | None = None):
    fields = {
        "RequestId": str(uuid.uuid4()),
        "CouponId": coupon,
        "OfficeCode": office,
        "CaseNumber": case_number,
        "CaseType": "REJ_NEW",
    }
    if amount is not None:
        fields["Amount"] = amount
    return service.RedeemCoupon(**fields)


def test_a_day_of_coupons_from_top_up_to_booked_settlement(served, bank):
    hub, url = served
    today = business_day(datetime.now(UTC))

    # 1. A transfer to the company's virtual account arrives on the escrow statement.
    company = hub.companies.add(NIP, "Leasing Polska S.A.", actor=OPERATOR)
    bank.control(credit=f"{company.virtual_account}:1000.00:Zasilenie konta {NIP}:{today.isoformat()}")
    answer = submit_statement(hub, url, bank.statement(today))
    assert (answer.Imported, answer.Unmatched) == (1, 0)
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 1000_00
    books = books_balance(hub)
    assert (books["company:" + NIP], books["bank:escrow"]) == (1000_00, -1000_00)  # escrow: an asset, debit-normal

    # 2. Coupons are issued, and redeemed at two offices by their own systems.
    coupons = [
        c.coupon_id
        for c in hub.coupons.issue(
            request_id=str(uuid.uuid4()), company_nip=NIP, case_type="REJ_NEW", count=4, actor=OPERATOR
        ).coupons
    ]
    books_balance(hub)
    warszawa, krakow = (
        soap_client(hub, f"{url}/soap/office", "pojazd-1465"),
        soap_client(hub, f"{url}/soap/office", "pojazd-1261"),
    )
    redeem(warszawa, coupons[0], "1465", "WK.5410.1.2026")
    redeem(warszawa, coupons[1], "1465", "WK.5410.2.2026", Decimal("100.00"))
    redeem(krakow, coupons[2], "1261", "KR.5410.9.2026")
    books = books_balance(hub)
    assert (books["office:1465"], books["office:1261"]) == (261_50, 161_50)

    # 3. The next morning the day is settled and sent to the bank.
    run = hub.settlements.settle(today, actor=OPERATOR)
    assert {s.office_code: (s.status, s.amount_grosze) for s in run.settlements} == {
        "1465": ("PENDING", 261_50),
        "1261": ("PENDING", 161_50),
        "3064": (CARRIED, 0),
        "0264": (CARRIED, 0),
    }
    assert books_balance(hub)["bank:transit"] == 423_00
    sent = hub.settlements.send(actor=OPERATOR)
    assert (sent.sent, sent.refused, sent.retried, sent.failed) == (3, 0, 0, 0)  # two transfers, one FK journal
    transfers = bank.transfers()
    e2e = {f"HUB-1465-{today:%Y%m%d}-1": "261.50", f"HUB-1261-{today:%Y%m%d}-1": "161.50"}
    assert {k: (t["amount"], t["status"], t["deliveries"]) for k, t in transfers.items()} == {
        k: (amount, "ACCEPTED", 1) for k, amount in e2e.items()
    }
    assert {s.status for s in hub.settlements.list(actor=OPERATOR) if s.end_to_end_id} == {SENT}
    books_balance(hub)

    # 4. The bank's statement of the transfers comes back and books the settlements.
    requested = business_day(hub.clock())
    answer = submit_statement(hub, url, bank.statement(requested))
    assert (answer.Imported, answer.Unmatched) == (2, 0)
    assert {
        s.end_to_end_id: (s.status, s.bank_reference) for s in hub.settlements.list(actor=OPERATOR) if s.end_to_end_id
    } == {k: (BOOKED, transfers[k]["bank_reference"]) for k in e2e}
    books = books_balance(hub)
    assert (books["bank:transit"], books["office:1465"], books["office:1261"]) == (0, 0, 0)
    assert books["bank:escrow"] == -(1000_00 - 423_00)
    assert hub.settlements.unreconciled(0, actor=OPERATOR) == []

    # The same statement again, and send again: nothing moves twice.
    submit_statement(hub, url, bank.statement(requested))
    assert hub.settlements.send(actor=OPERATOR).attempted == 0
    assert books_balance(hub) == books
    assert {t["deliveries"] for t in bank.transfers().values()} == {1}
    assert MessageLog(hub.db).verify().ok
