"""Cash desk test helpers: payments and supervisors made through the services, and a
real hub on 127.0.0.1 whose config also has a cash desk client of another office."""

from __future__ import annotations

import threading
from wsgiref.simple_server import make_server

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hub.app import create_app
from hub.cashdesk.service import ItemRequest
from hub.config import load_config
from hub.signing.devcerts import issue_cert, write_pem
from tests.factories import OPERATOR, config_copy, rid
from tests.services.conftest import RunningHub, _Quiet, _ThreadingServer

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


def add_user(hub, login: str, role: str = "supervisor", office_code: str = "1465") -> str:
    hub.users.add_user(OPERATOR, login, office_code=office_code, role=role)
    return login


@pytest.fixture
def cashdesk_hub(tmp_path, db_url):
    """A RunningHub over the shipped config plus `kasa-1261-01`, issued by the dev CA."""
    config_dir = config_copy(tmp_path, db_url)
    keys = config_dir / "keys"
    ca_key = serialization.load_pem_private_key((keys / "dev-ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((keys / "dev-ca.crt").read_bytes())
    subject = f"CN={OTHER_KASA},O=Hub Dev Clients,C=PL"
    key, cert = issue_cert(ca_key, ca_cert, subject)
    _, pem = write_pem(keys, OTHER_KASA, key, cert)
    pem.rename(keys / f"{OTHER_KASA}.crt")  # where RunningHub.identity looks
    with (config_dir / "clients.toml").open("a") as clients:
        clients.write(
            f'\n[[client]]\nid = "{OTHER_KASA}"\nkind = "CASHDESK"\nca = "keys/dev-ca.crt"\nsubject = "{subject}"\noffices = ["1261"]\n'
        )
    app = create_app(load_config(config_dir))
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RunningHub(app, f"http://127.0.0.1:{server.server_port}", config_dir)
    server.shutdown()
    server.server_close()
    app.hub.close()
