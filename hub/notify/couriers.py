"""The two ways a warning leaves the hub, as outbox couriers (hub.outbox.Courier):
an e-mail through the configured SMTP server, and a webhook: an HTTP POST of the JSON
body with its HMAC-SHA256 in `X-Hub-Signature: sha256=<hex>`.

The outbox retries with backoff whatever may succeed later; for a webhook that is any
answer but 2xx (and no answer at all), so a receiver that is down or failing gets the
same delivery again, with the same `X-Hub-Delivery` id, until it answers 2xx. An SMTP
server's permanent refusal (5xx) is final; a temporary one (4xx) or none is retried.

Before each webhook delivery its URL is checked again (`targets.py`: public addresses
only, unless allowed); a refused address is final. The request then goes to an address
that check returned, with the host name in Host and in TLS (SNI and the certificate's
name), so nothing resolves the name again between the check and the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import certifi
import urllib3
from sqlalchemy.orm import Session

from hub.config import NotifySettings
from hub.errors import WebhookTargetRefused, WebhookTargetUnresolvable
from hub.notify.targets import WebhookTarget, WebhookTargets
from hub.outbox import Refused, Transient
from hub.outbox.models import OutboxRecord

EMAIL, WEBHOOK = "notify-email", "notify-webhook"
SIGNATURE_HEADER = "X-Hub-Signature"
USER_AGENT = "fee-coupon-hub-notify/1"


def webhook_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature` value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoOutcome:
    """Warnings keep no domain state of their own beyond the outbox record."""

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        pass

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        pass


class EmailCourier(_NoOutcome):
    kind = EMAIL

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def send(self, payload: dict) -> dict:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = payload.get("message_id") or make_msgid(domain="hub")
        message.set_content(payload["text"])
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(
                        s.smtp_user,
                        s.smtp_password_file.read_text().strip() if s.smtp_password_file else "",
                    )
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
            if 500 <= error.smtp_code < 600:
                raise Refused(f"the mail server refused it: {text}") from None
            raise Transient(f"the mail server deferred it: {text}") from None
        except smtplib.SMTPRecipientsRefused as error:
            raise Refused(
                f"the mail server refused the recipient: {_recipients(error.recipients)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise Transient(
                f"the mail server {s.smtp_host}:{s.smtp_port} is unreachable: {type(error).__name__}: {error}"
            ) from None
        if refused:
            raise Refused(f"the mail server refused the recipient: {_recipients(refused)}")
        return {"to": payload["to"], "message_id": message["Message-ID"]}


class WebhookCourier(_NoOutcome):
    kind = WEBHOOK

    def __init__(self, settings: NotifySettings, targets: WebhookTargets) -> None:
        self.settings = settings
        self.targets = targets

    def send(self, payload: dict) -> dict:
        url = payload["url"]
        try:
            target = self.targets.check(url)
        except WebhookTargetRefused as refusal:
            raise Refused(str(refusal)) from None
        except WebhookTargetUnresolvable as error:
            raise Transient(str(error)) from None
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: payload["signature"],
            "X-Hub-Event": payload["event"],
            "X-Hub-Delivery": payload["delivery"],
        }
        status = self._post(target, payload["body"].encode(), headers)
        if not 200 <= status < 300:
            raise Transient(f"{url} answered HTTP {status}")
        return {"status": status}

    def _post(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status from the first of the checked addresses that takes the
        connection; no redirects, no proxy, no retries of its own (the outbox retries)."""
        problem = "no address"
        for address in target.addresses:
            options: dict = {
                "timeout": urllib3.Timeout(total=self.settings.timeout_s),
                "retries": False,
                "maxsize": 1,
            }
            if target.scheme == "https":
                options |= {
                    "server_hostname": target.host,
                    "cert_reqs": "CERT_REQUIRED",
                    "ca_certs": certifi.where(),
                }
                pool = urllib3.HTTPSConnectionPool(address, target.port, **options)
            else:
                pool = urllib3.HTTPConnectionPool(address, target.port, **options)
            try:
                with pool:
                    return pool.urlopen(
                        "POST",
                        target.path,
                        body=body,
                        headers=headers,
                        redirect=False,
                        assert_same_host=False,
                    ).status
            except urllib3.exceptions.NewConnectionError as error:
                problem = f"{type(error).__name__}"
                continue  # the next address, as a browser would
            except urllib3.exceptions.HTTPError as error:
                raise Transient(f"{target.url} unreachable: {type(error).__name__}") from None
        raise Transient(f"{target.url} unreachable: {problem}")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _recipients(refused: dict) -> str:
    return ", ".join(
        f"{address} ({code} {_text(text)})" for address, (code, text) in refused.items()
    )
