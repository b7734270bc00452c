"""Cash desk helpers: payments and supervisors made through the services, what the books
then hold, a cash desk client of another office added to a config, and a signed zeep client."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import zeep
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import func, select
from zeep.plugins import HistoryPlugin

from hub import ns
from hub.audit.models import AuditEvent
from hub.cashdesk.models import Payment
from hub.cashdesk.service import ItemRequest
from hub.ledger import Ledger
from hub.ledger.models import LedgerTransfer
from hub.services.endpoint import contract_schema
from hub.signing.devcerts import issue_cert, write_pem
from hub.signing.zeep_plugin import HubSignature
from tests.support.factories import OPERATOR, rid

OTHER_KASA = "kasa-1261-01"  # a CASHDESK client of office 1261, added to the test's own config


def pay(hub, *items: ItemRequest, actor=OPERATOR, **kw):
    """A payment at office 1465, desk 01, for case KM.1 of Pojazd, in cash, of one DR fee unless told otherwise."""
    fields = dict(
        request_id=rid(),
        office_code="1465",
        desk_id="01",
        cashier="anna.nowak",
        system="POJAZD",
        case_number="KM.5410.1.1.2026",
        method="CASH",
        items=list(items) or [ItemRequest("DR")],
    )
    fields.update(kw)
    return hub.cashdesk.register(actor=actor, **fields)


def void(hub, payment_id: str, reason: str, supervisor: str, actor=OPERATOR):
    """The payment voided with the supervisor's confirmation, under a new request id; returns when it was."""
    return hub.cashdesk.void(request_id=rid(), payment_id=payment_id, reason=reason, supervisor=supervisor, actor=actor)


def add_user(hub, login: str, role: str = "supervisor", office_code: str = "1465") -> str:
    hub.users.add_user(OPERATOR, login, office_code=office_code, role=role)
    return login


TODAY = date(2026, 3, 10)  # the FakeClock's day


def payments(hub) -> list[Payment]:
    with hub.db.read() as s:
        return list(
            s.scalars(select(Payment).order_by(Payment.office_code, Payment.desk_id, Payment.year, Payment.number))
        )


def transfers(hub) -> int:
    with hub.db.read() as s:
        return s.scalar(select(func.count()).select_from(LedgerTransfer))


def balance(hub, code: str):
    with hub.db.read() as s:
        return Ledger(s).balance(code)


def events(hub, action: str) -> list[dict]:
    with hub.db.read() as s:
        return [
            json.loads(e.detail) | {"actor": e.actor}
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action))
        ]


SOAP = f"{{{ns.SOAP_ENV_11}}}"
CASE = "KM.5410.1.124.2026"


class Client:
    """A signed zeep client of one service, as one configured client; keeps the last answer."""

    def __init__(self, running_hub, client_id: str, service: str) -> None:
        self.history = HistoryPlugin()
        wsse = HubSignature.pinned(running_hub.identity(client_id), running_hub.hub_cert, "hub")
        self.zeep = zeep.Client(f"{running_hub.url}/soap/{service}?wsdl", wsse=wsse, plugins=[self.history])
        self.schema = contract_schema(service)

    def __getattr__(self, operation):
        def call(**fields):
            answer = getattr(self.zeep.service, operation)(**fields)
            self.schema.assertValid(self.history.last_received["envelope"].find(f"{SOAP}Body")[0])
            return answer

        return call


def payment(**extra) -> dict:
    return {
        "RequestId": str(uuid.uuid4()),
        "OfficeCode": "1465",
        "DeskId": "01",
        "Cashier": "anna.nowak",
        "System": "POJAZD",
        "CaseNumber": CASE,
        "Method": "CARD",
        "CardAuthCode": "A1B2C3",
        "Item": [{"FeeCode": "DR", "Amount": Decimal("54.00")}, {"FeeCode": "EWID"}],
        **extra,
    }


def payment_fields(**extra) -> list:
    """`payment()` for a hand-built envelope: (name, text) pairs in contract order, an Item as
    (name, [its pairs])."""
    fields: list = []
    for name, value in payment(**extra).items():
        for one in value if isinstance(value, list) else [value]:
            fields.append((name, [(k, str(v)) for k, v in one.items()] if isinstance(one, dict) else str(one)))
    return fields


def void_request(payment_id: str, reason: str, supervisor: str) -> dict:
    """VoidPayment's fields, under a new RequestId."""
    return {"RequestId": str(uuid.uuid4()), "PaymentId": payment_id, "Reason": reason, "Supervisor": supervisor}


def close_day_request(day: date, **extra) -> dict:
    """CloseDay's fields for desk 01 of office 1465, under a new RequestId."""
    return {"RequestId": str(uuid.uuid4()), "OfficeCode": "1465", "DeskId": "01", "Date": day, **extra}


def add_other_kasa(config_dir: Path) -> None:
    """`kasa-1261-01`, a CASHDESK client of office 1261 issued by the dev CA, added to the
    config folder (its key and certificate where RunningHub.identity looks)."""
    keys = config_dir / "keys"
    ca_key = serialization.load_pem_private_key((keys / "dev-ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey), ca_key
    ca_cert = x509.load_pem_x509_certificate((keys / "dev-ca.crt").read_bytes())
    subject = f"CN={OTHER_KASA},O=Hub Dev Clients,C=PL"
    key, cert = issue_cert(ca_key, ca_cert, subject)
    _, pem = write_pem(keys, OTHER_KASA, key, cert)
    pem.rename(keys / f"{OTHER_KASA}.crt")
    with (config_dir / "clients.toml").open("a") as clients:
        clients.write(
            f'\n[[client]]\nid = "{OTHER_KASA}"\nkind = "CASHDESK"\nca = "keys/dev-ca.crt"\n'
            f'subject = "{subject}"\noffices = ["1261"]\n'
        )
