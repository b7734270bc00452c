"""Webhooks reach public addresses only (unless the operator allows a network), checked
when the admin sets the URL and again before each delivery, and the delivery connects to
the address that was checked: a name that resolves elsewhere later reaches nothing."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import hub.adapters.webhook as couriers
from hub.adapters.webhook import HttpPoster
from hub.app import Hub, cli
from hub.config import NotifySettings, load_config
from hub.errors import WebhookTargetRefused
from hub.notify.couriers import WebhookCourier
from hub.notify.service import NotificationService
from hub.notify.targets import WebhookTargets
from hub.outbox import Transient
from tests.support.factories import NIP, OPERATOR, config_copy, funded_company, issue
from tests.support.wsgi import SHUTDOWN_POLL_S

SECRET = "6b0f3c1e9a2d4f5b8c7e1a2b3c4d5e6f"
PUBLIC = "93.184.216.34"  # example.com: never connected to here

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "0.0.0.0": "unspecified",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "100.64.0.1": "non-global",
    "192.0.2.7": "private",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "2002:a9fe:a9fe::1": "link-local",  # 6to4 of 169.254.169.254
    "2001:db8::1": "private",
}


@pytest.mark.parametrize("address, kind", sorted(REFUSED.items()))
def test_non_global_addresses_are_refused(address, kind):
    assert WebhookTargets().refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", [PUBLIC, "1.1.1.1", "2a00:1450:4001:82a::200e", "::ffff:93.184.216.34"])
def test_global_addresses_are_allowed(address):
    assert WebhookTargets().refusal(ipaddress.ip_address(address)) is None


def test_the_operator_may_allow_a_network():
    targets = WebhookTargets([ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("::1/128")])
    assert targets.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert targets.refusal(ipaddress.ip_address("::ffff:10.20.3.4")) is None  # the same host, IPv4-mapped
    assert targets.refusal(ipaddress.ip_address("::1")) is None
    assert targets.refusal(ipaddress.ip_address("10.21.0.1")) == "private"
    assert targets.refusal(ipaddress.ip_address("127.0.0.1")) == "loopback"


def test_one_forbidden_address_among_several_refuses_the_name():
    targets = WebhookTargets(resolve=lambda host, port: [PUBLIC, "10.0.0.5"])
    with pytest.raises(WebhookTargetRefused, match=r"hooks.leasing.example \(10.0.0.5\) is a private address"):
        targets.check("https://hooks.leasing.example/hub")


class Receiver:
    """An HTTP endpoint on `host` that keeps every request's headers."""

    def __init__(self, host: str) -> None:
        self.headers: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.headers.append(dict(self.headers))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver("127.0.0.2")
    yield r
    r.close()


class Dns:
    """What a name resolves to, changed by the test between lookups; counts the lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return self.answers[min(self.lookups, len(self.answers)) - 1]


def _low_balance(hub: Hub, service: NotificationService, url: str) -> None:
    funded_company(hub, 500_00)
    service.configure(OPERATOR, NIP, low_balance_grosze=400_00, webhook_url=url, webhook_secret=SECRET)
    issue(hub, 1)
    assert service.scan(actor=OPERATOR).low_balance == (f"low-balance:{NIP}:1",)


def test_setting_a_loopback_or_metadata_webhook_is_refused_and_changes_nothing(hub):
    funded_company(hub, 0)
    for url in (
        "http://127.0.0.1:8000/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost/x",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
    ):
        with pytest.raises(WebhookTargetRefused, match="webhooks go to public addresses only"):
            hub.notifications.configure(OPERATOR, NIP, webhook_url=url, webhook_secret=SECRET)
    assert hub.notifications.settings(OPERATOR, NIP).webhook_url is None


def test_a_name_that_resolves_to_loopback_later_is_refused_at_send_time(hub, receiver):
    dns = Dns([PUBLIC], ["127.0.0.2"])  # public when the admin sets it, loopback when the hub sends
    service = dataclasses.replace(hub.notifications, webhook_targets=WebhookTargets(resolve=dns))
    _low_balance(hub, service, f"http://hooks.leasing.example:{receiver.port}/hub")
    run = service.deliver(actor=OPERATOR)
    assert (run.sent, run.retried) == (0, 0)
    (view,) = [v for v in service.history(OPERATOR, NIP) if v.channel == "webhook"]
    assert view.status == "REJECTED" and "hooks.leasing.example (127.0.0.2) is a loopback address" in view.last_error
    assert receiver.headers == []  # nothing reached the loopback receiver


def test_the_delivery_connects_to_the_checked_address_without_a_second_lookup(hub, receiver):
    # Allowed: 127.0.0.2 only. A second lookup would get 127.0.0.3 (where nothing listens),
    # and a lookup of the name by the HTTP client would not find it at all.
    dns = Dns(["127.0.0.2"], ["127.0.0.2"], ["127.0.0.3"])
    targets = WebhookTargets([ipaddress.ip_network("127.0.0.2/32")], resolve=dns)
    service = dataclasses.replace(hub.notifications, webhook_targets=targets)
    _low_balance(hub, service, f"http://hooks.leasing.example:{receiver.port}/hub")
    assert service.deliver(actor=OPERATOR).sent == 1
    assert dns.lookups == 2  # once when set, once before sending
    (headers,) = receiver.headers
    assert headers["Host"] == f"hooks.leasing.example:{receiver.port}"


def test_a_webhook_allowed_once_is_refused_when_the_operator_takes_the_allowance_back(
    shipped_config, db, clock, receiver
):
    allowing = dataclasses.replace(
        shipped_config, notify=NotifySettings(webhook_allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    )
    hub = Hub(allowing, clock=clock, db=db)
    _low_balance(hub, hub.notifications, f"http://127.0.0.2:{receiver.port}/hub")
    strict = Hub(shipped_config, clock=clock, db=db)
    assert strict.notifications.deliver(actor=OPERATOR).sent == 0
    (view,) = [v for v in strict.notifications.history(OPERATOR, NIP) if v.channel == "webhook"]
    assert view.status == "REJECTED" and "loopback" in view.last_error
    assert receiver.headers == []


def test_webhook_allow_networks_in_hub_toml(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)
    hub_toml = config_dir / "hub.toml"
    base = hub_toml.read_text()
    hub_toml.write_text(base + '\n[notify]\nwebhook_allow_networks = ["10.20.0.0/16", "fd00::/8"]\n')
    assert [str(n) for n in load_config(config_dir).notify.webhook_allow_networks] == ["10.20.0.0/16", "fd00::/8"]
    hub_toml.write_text(base + '\n[notify]\nwebhook_allow_networks = ["10.20.0.1/16", "intranet"]\n')
    result = CliRunner().invoke(cli, ["--config", str(config_dir), "config", "check"])
    assert result.exit_code != 0
    assert "webhook_allow_networks[0]" in result.stderr and "did you mean 10.20.0.0/16?" in result.stderr
    assert "webhook_allow_networks[1]" in result.stderr and '"intranet"' in result.stderr


def test_the_cli_refuses_a_private_webhook_in_one_line(run, tmp_path):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(SECRET)
    result = run(
        *f"notify set --nip {NIP} --webhook http://169.254.169.254/ --webhook-secret-file".split(),
        str(secret_file),
        ok=False,
    )
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "169.254.169.254 is a link-local address" in result.stderr


def test_https_goes_to_the_checked_address_and_checks_the_certificate_for_the_name(tmp_path, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.leasing.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.leasing.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "receiver.crt", tmp_path / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    receiver = Receiver("127.0.0.2")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    try:
        targets = WebhookTargets([ipaddress.ip_network("127.0.0.2/32")], resolve=lambda host, port: ["127.0.0.2"])
        courier = WebhookCourier(targets, HttpPoster(NotifySettings(timeout_s=5).timeout_s))
        payload = {
            "url": f"https://hooks.leasing.example:{receiver.port}/hub",
            "body": "{}",
            "signature": "sha256=00",
            "event": "low_balance",
            "delivery": "d1",
        }
        with pytest.raises(Transient, match="SSLError"):
            courier.send(payload)  # a certificate no CA of the hub's vouches for
        monkeypatch.setattr(couriers.certifi, "where", lambda: str(cert_file))  # now the receiver's CA is trusted
        assert courier.send(payload) == {"status": 204}
        assert receiver.headers[-1]["Host"] == f"hooks.leasing.example:{receiver.port}"
        wrong_name = dict(payload, url=f"https://other.leasing.example:{receiver.port}/hub")
        with pytest.raises(Transient, match="SSLError"):
            courier.send(wrong_name)  # the certificate names another host
    finally:
        receiver.close()
