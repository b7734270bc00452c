"""The two ways a warning leaves the hub, as outbox couriers (hub.outbox.Courier):
an e-mail, and a webhook: an HTTP POST of the JSON body with its HMAC-SHA256 in
`X-Hub-Signature: sha256=<hex>`. The wire is injected by hub.app: a `MailSender`
(hub.adapters.mail, SMTP) and a `WebhookPoster` (hub.adapters.webhook, HTTP).

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
from typing import Protocol

from sqlalchemy.orm import Session

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


class MailSender(Protocol):
    """Sends one e-mail (`payload`: to, subject, text, optionally message_id); returns
    {"to", "message_id"}, or raises Refused (final) / Transient (retry later)."""

    def send(self, payload: dict) -> dict: ...


class WebhookPoster(Protocol):
    """POSTs `body` to a checked target, at one of its checked addresses; returns the
    answer's HTTP status, or raises Transient when none answers."""

    def post(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int: ...


class _NoOutcome:
    """Warnings keep no domain state of their own beyond the outbox record."""

    def on_sent(self, session: Session, record: OutboxRecord, result: dict) -> None:
        pass

    def on_refused(self, session: Session, record: OutboxRecord, refusal: Refused) -> None:
        pass


class EmailCourier(_NoOutcome):
    kind = EMAIL

    def __init__(self, sender: MailSender) -> None:
        self.sender = sender

    def send(self, payload: dict) -> dict:
        return self.sender.send(payload)


class WebhookCourier(_NoOutcome):
    kind = WEBHOOK

    def __init__(self, targets: WebhookTargets, poster: WebhookPoster) -> None:
        self.targets = targets
        self.poster = poster

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
        status = self.poster.post(target, payload["body"].encode(), headers)
        if not 200 <= status < 300:
            raise Transient(f"{url} answered HTTP {status}")
        return {"status": status}
