"""Warnings to companies, delivered to a real SMTP server (aiosmtpd) and a real HTTP
receiver on 127.0.0.1: one e-mail and one signed webhook per low-balance episode,
retried with backoff until the receiver answers 2xx, never duplicated."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from hub.access import Actor
from hub.app import Hub, cli
from hub.config import NotifySettings
from hub.errors import InvalidRequest, NotAuthorized
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, config_copy, funded_company, issue
from tests.support.ports import SmtpServer, refused_port
from tests.support.wsgi import SHUTDOWN_POLL_S

SECRET = "6b0f3c1e9a2d4f5b8c7e1a2b3c4d5e6f"
# The receivers here listen on loopback, which webhooks may reach only when the operator allows it.
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class Mailbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = SmtpServer(box)
    controller.start()
    yield box, controller.port
    controller.stop()


class Receiver:
    """A company's webhook endpoint: answers `failures` times 503, then 204; keeps every request."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(503 if len(receiver.requests) <= receiver.failures else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/hub"


@pytest.fixture
def receiver():
    r = Receiver(failures=2)
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def notifying_hub(shipped_config, db, clock, mailbox):
    _, port = mailbox
    config = dataclasses.replace(
        shipped_config,
        notify=NotifySettings(
            smtp_port=port, smtp_from="hub@example.test", timeout_s=5, webhook_allow_networks=LOOPBACK
        ),
    )
    return Hub(config, clock=clock, db=db)


def test_a_low_balance_sends_one_email_and_one_webhook_retried_until_2xx(notifying_hub, clock, mailbox, receiver):
    hub, (box, _) = notifying_hub, mailbox
    funded_company(hub, 500_00)
    hub.notifications.configure(
        OPERATOR,
        NIP,
        low_balance_grosze=400_00,
        email="finanse@leasing.example",
        webhook_url=receiver.url,
        webhook_secret=SECRET,
    )
    assert hub.notifications.scan(actor=OPERATOR).low_balance == ()  # 500.00 available: nothing to say

    issue(hub, 1)  # 161.50 held: 338.50 available, below 400.00
    assert hub.notifications.scan(actor=OPERATOR).low_balance == (f"low-balance:{NIP}:1",)
    first = hub.notifications.deliver(actor=OPERATOR)
    assert (first.sent, first.retried) == (1, 1)  # the e-mail went; the receiver answered 503

    # the same episode is not warned again, and nothing is due before the backoff has passed
    assert hub.notifications.scan(actor=OPERATOR).low_balance == ()
    assert hub.notifications.deliver(actor=OPERATOR).attempted == 0
    clock.advance(seconds=61)
    assert hub.notifications.deliver(actor=OPERATOR).retried == 1  # 503 again; the next wait is longer
    clock.advance(seconds=61)
    assert hub.notifications.deliver(actor=OPERATOR).attempted == 0
    clock.advance(seconds=60)
    assert hub.notifications.deliver(actor=OPERATOR).sent == 1  # 204
    clock.advance(hours=3)
    assert (
        hub.notifications.scan(actor=OPERATOR).low_balance == ()
        and hub.notifications.deliver(actor=OPERATOR).attempted == 0
    )

    assert len(box.messages) == 1
    message = box.messages[0]
    assert (message["To"], message["From"], message["Subject"]) == (
        "finanse@leasing.example",
        "hub@example.test",
        "Saldo poniżej progu: Leasing Polska S.A.",
    )
    assert "338,50\u00a0zł" in message.get_content()

    assert len(receiver.requests) == 3
    bodies = {body for _, body in receiver.requests}
    deliveries = {headers["X-Hub-Delivery"] for headers, _ in receiver.requests}
    assert len(bodies) == 1 and deliveries == {f"low-balance:{NIP}:1"}  # the same delivery each time
    headers, body = receiver.requests[-1]
    assert headers["X-Hub-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    event = json.loads(body)
    assert (event["event"], event["company_nip"], event["available"], event["threshold"]) == (
        "low_balance",
        NIP,
        "338.50",
        "400.00",
    )

    history = {(v.channel, v.status, v.attempts) for v in hub.notifications.history(OPERATOR, NIP)}
    assert history == {("email", "SENT", 1), ("webhook", "SENT", 3)}


def test_back_above_the_threshold_and_below_again_is_a_new_warning(notifying_hub, mailbox):
    hub, (box, _) = notifying_hub, mailbox
    funded_company(hub, 200_00)
    hub.notifications.configure(OPERATOR, NIP, low_balance_grosze=100_00, email="finanse@leasing.example")
    issue(hub, 1)  # 38.50 left
    assert hub.notifications.scan(actor=OPERATOR).low_balance == (f"low-balance:{NIP}:1",)
    hub.companies.credit(NIP, 500_00, "przelew", actor=OPERATOR)
    assert hub.notifications.scan(actor=OPERATOR).recovered == (NIP,)
    issue(hub, 3)  # 538.50 - 484.50 = 54.00
    assert hub.notifications.scan(actor=OPERATOR).low_balance == (f"low-balance:{NIP}:2",)
    hub.notifications.deliver(actor=OPERATOR)
    assert len(box.messages) == 2


def test_coupons_about_to_expire_are_warned_once_per_expiry_day(notifying_hub, clock, mailbox):
    hub, (box, _) = notifying_hub, mailbox
    funded_company(hub, 1000_00)
    hub.notifications.configure(OPERATOR, NIP, email="finanse@leasing.example")
    coupons = issue(hub, 2).coupons
    assert hub.notifications.scan(actor=OPERATOR).expiring == ()
    clock.advance(days=84)  # valid 90 days: 6 left
    day = coupons[0].expires_at
    made = hub.notifications.scan(actor=OPERATOR).expiring
    assert len(made) == 1 and made[0].startswith(f"expiring:{NIP}:")
    assert hub.notifications.scan(actor=OPERATOR).expiring == ()  # a second run the same day
    clock.advance(days=1)
    assert hub.notifications.scan(actor=OPERATOR).expiring == ()  # and the next day: already warned
    hub.notifications.deliver(actor=OPERATOR)
    assert len(box.messages) == 1
    text = box.messages[0].get_content()
    assert "2 kupony" in text and "kupon(ów)" not in text and "323,00\u00a0zł" in text
    assert coupons[0].coupon_id not in text  # coupon ids stay out of e-mail
    assert day is not None


def test_an_smtp_server_that_is_down_is_retried_and_a_refusal_is_final(shipped_config, db, clock):
    config = dataclasses.replace(shipped_config, notify=NotifySettings(smtp_port=refused_port(), timeout_s=2))
    hub = Hub(config, clock=clock, db=db)
    funded_company(hub, 100_00)
    hub.notifications.configure(OPERATOR, NIP, low_balance_grosze=200_00, email="finanse@leasing.example")
    hub.notifications.scan(actor=OPERATOR)
    run = hub.notifications.deliver(actor=OPERATOR)
    assert run.retried == 1 and "unreachable" in run.errors[0]
    [view] = hub.notifications.history(OPERATOR, NIP)
    assert (view.status, view.attempts) == ("PENDING", 1) and view.next_attempt_at == clock() + timedelta(seconds=60)


def test_settings_are_checked_and_kept_to_the_companys_admin(notifying_hub):
    hub = notifying_hub
    funded_company(hub, 0)
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing")
    with pytest.raises(InvalidRequest, match="needs a secret"):
        hub.notifications.configure(OPERATOR, NIP, webhook_url="https://localhost/hub")
    with pytest.raises(InvalidRequest, match="not an e-mail address"):
        hub.notifications.configure(OPERATOR, NIP, email="finanse")
    with pytest.raises(InvalidRequest, match="16 to 200 characters"):
        hub.notifications.configure(OPERATOR, NIP, webhook_url="https://localhost/hub", webhook_secret="short")
    with pytest.raises(NotAuthorized):
        hub.notifications.configure(company_actor(OTHER_NIP), NIP, email="x@leasing.example")
    with pytest.raises(NotAuthorized):
        hub.notifications.configure(
            Actor("user:viewer", permissions=frozenset({"statement:read"}), company_nip=NIP),
            NIP,
            email="x@leasing.example",
        )
    with pytest.raises(NotAuthorized):
        hub.notifications.history(company_actor(NIP))  # a company sees only its own: --nip
    view = hub.notifications.configure(company_actor(NIP), NIP, low_balance_grosze=50_00, email="x@leasing.example")
    assert (view.low_balance_grosze, view.email, view.webhook_secret_set) == (50_00, "x@leasing.example", False)


def test_the_notify_commands(tmp_path, db_url, mailbox, receiver):
    _, port = mailbox
    config_dir = config_copy(tmp_path, db_url)
    (config_dir / "hub.toml").write_text(
        (config_dir / "hub.toml").read_text()
        + f'\n[notify]\nsmtp_port = {port}\nwebhook_allow_networks = ["127.0.0.0/8"]\n'
    )
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(SECRET + "\n")

    def run(*args, code=0):
        result = CliRunner().invoke(cli, ["--config", str(config_dir), *args], catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    shown = json.loads(
        run(
            *f"notify set --nip {NIP} --low-balance 100.00 --email finanse@leasing.example --webhook".split(),
            receiver.url,
            "--webhook-secret-file",
            str(secret_file),
            "--json",
        ).stdout
    )
    assert (shown["low_balance"], shown["webhook_secret_set"]) == ("100.00", True)
    assert SECRET not in run("notify", "show", "--nip", NIP, "--json").stdout
    result = json.loads(run("notify", "run", "--json").stdout)
    assert (result["low_balance"], result["sent"], result["retried"]) == ([f"low-balance:{NIP}:1"], 1, 1)
    history = run("notify", "history", "--nip", NIP).stdout
    assert "email    SENT" in history and "webhook  PENDING   attempts 1" in history
    failed = run("notify", "set", "--nip", NIP, "--email", "x@y.example", "--no-email", code=2)
    assert "not both" in failed.stderr


@pytest.mark.parametrize("job", ["scan", "deliver"])
def test_only_the_operator_runs_the_warnings(hub, job):
    with pytest.raises(NotAuthorized):
        getattr(hub.notifications, job)(actor=company_actor())
    getattr(hub.notifications, job)(actor=OPERATOR)
