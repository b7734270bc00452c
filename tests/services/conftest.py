"""A real hub on 127.0.0.1 (WSGI server in a thread) over the test's database,
and clients that sign as the shipped config's dev certificates."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from cryptography import x509
from lxml import etree

from hub import ns
from hub.app import create_app
from hub.config import load_config
from hub.signing.keys import SigningIdentity
from hub.signing.sign import sign_envelope
from tests.factories import config_copy, funded_company, issue


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class RunningHub:
    app: object
    url: str
    config_dir: Path

    @property
    def hub(self):
        return self.app.hub

    def identity(self, client_id: str) -> SigningIdentity:
        keys = self.config_dir / "keys"
        return SigningIdentity.load(keys / f"{client_id}.key", keys / f"{client_id}.crt")

    @property
    def hub_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.config_dir / "keys" / "hub.crt").read_bytes())

    def post(self, body: bytes, path: str = "/soap/office") -> tuple[int, etree._Element]:
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, etree.fromstring(response.read())
        except urllib.error.HTTPError as e:
            return e.code, etree.fromstring(e.read())


@contextmanager
def serving(config_dir: Path):
    """A hub on `config_dir`, served over HTTP on a free port of 127.0.0.1 while in the block."""
    app = create_app(load_config(config_dir))
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningHub(app, f"http://127.0.0.1:{server.server_port}", config_dir)
    finally:
        server.shutdown()
        server.server_close()
        app.hub.close()


@pytest.fixture
def running_hub(tmp_path, db_url):
    with serving(config_copy(tmp_path, db_url)) as running:
        yield running


@pytest.fixture
def coupon(running_hub):
    """One issued REJ_NEW coupon of a funded company (500.00 PLN)."""
    funded_company(running_hub.hub, 500_00)
    return issue(running_hub.hub, 1).coupons[0].coupon_id


def office_request(operation: str, **fields) -> etree._Element:
    """An unsigned SOAP envelope with <operation>Request in the office namespace."""
    soap, o = f"{{{ns.SOAP_ENV_11}}}", f"{{{ns.OFFICE}}}"
    envelope = etree.Element(soap + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "o": ns.OFFICE})
    etree.SubElement(envelope, soap + "Header")
    request = etree.SubElement(etree.SubElement(envelope, soap + "Body"), o + operation + "Request")
    for name, value in fields.items():
        etree.SubElement(request, o + name).text = value
    return envelope


def signed_request(identity: SigningIdentity, operation: str, **fields) -> bytes:
    return etree.tostring(sign_envelope(office_request(operation, **fields), identity))


def redeem_fields(coupon_id: str, **extra) -> dict:
    return {
        "RequestId": str(uuid.uuid4()),
        "CouponId": coupon_id,
        "OfficeCode": "1465",
        "CaseNumber": "WK.5410.7.2026",
        "CaseType": "REJ_NEW",
        **extra,
    }


def fault_of(response: etree._Element) -> tuple[str, str]:
    fault = response.find(f"{{{ns.SOAP_ENV_11}}}Body/{{{ns.SOAP_ENV_11}}}Fault")
    assert fault is not None, etree.tostring(response)
    code = fault.findtext("faultcode")
    prefix, _, local = code.partition(":")
    return f"{{{fault.nsmap.get(prefix) or response.nsmap.get(prefix)}}}{local}", fault.findtext(
        "faultstring"
    )
