"""Warnings to companies: a low available balance, and coupons about to expire.

`hub notify run` (a timer, every few minutes) does both checks and delivers:

- Low balance: a company whose available balance is below its threshold is warned once
  for each time it goes below (an *episode*); when the balance is back at or above the
  threshold the next drop is a new episode. A changed threshold starts afresh.
- Expiring coupons: issued coupons that expire within `[notify] expiry_warning_days`
  (default 7) are warned once per company and Warsaw expiry day, so a missed run is
  caught up by the next one and a repeated run sends nothing twice.

Each warning is a `Notification` with a unique key, and an outbox record per channel
(e-mail, webhook) written in the same transaction; the outbox delivers and retries them
(hub.notify.couriers, over the wire of hub.adapters). The checks read balances from the ledger, they never move money.
"""

from __future__ import annotations

import json
import re
from dataclasses import KW_ONLY, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from hub.access import STATEMENT_READ, USERS_MANAGE, Actor
from hub.audit.models import record_event
from hub.clock import Clock, business_day, utcnow, wire_time
from hub.companies.models import Company
from hub.companies.service import find_company, topup_title, valid_nip
from hub.coupons.models import ISSUED, Coupon
from hub.db.database import Database
from hub.errors import HubError, InvalidRequest, NotAuthorized
from hub.ids import format_coupon_id, format_iban, format_nrb
from hub.ledger import Ledger
from hub.ledger.chart import company_account
from hub.money import format_pln
from hub.notify.couriers import (
    EMAIL,
    WEBHOOK,
    EmailCourier,
    MailSender,
    WebhookCourier,
    WebhookPoster,
    webhook_signature,
)
from hub.notify.models import COUPONS_EXPIRING, LOW_BALANCE, Notification, NotificationSettings
from hub.notify.targets import WebhookTargets
from hub.outbox import Courier, DeliveryRun, Outbox, enqueue
from hub.outbox.models import OutboxRecord, OutboxStatus
from hub.words import count_pl, format_amount_pl

UNSET: Any = object()
WEBHOOK_SECRET_CHARS_MIN = 16
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WEBHOOK_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


@dataclass(frozen=True)
class SettingsView:
    company_nip: str
    low_balance_grosze: int | None
    email: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    below_threshold_since: datetime | None


@dataclass(frozen=True)
class ScanRun:
    low_balance: tuple[str, ...]  # keys of the warnings made
    expiring: tuple[str, ...]
    recovered: tuple[str, ...]  # NIPs back at or above their threshold


@dataclass(frozen=True)
class DeliveryView:
    key: str
    company_nip: str
    event: str
    channel: str  # email or webhook
    status: str  # the outbox record's: PENDING, SENT, FAILED, REJECTED
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None


@dataclass(eq=False)
class NotificationService:
    """`escrow_account` ([bank]) is the account a top-up goes to; `expiry_warning_days`
    ([notify]) how early a company hears of coupons about to expire. `webhook_targets`
    decides where a webhook may go; `mail` and `poster` carry e-mails and webhooks
    (hub.adapters, injected by hub.app)."""

    db: Database
    escrow_account: str
    expiry_warning_days: int
    clock: Clock = utcnow
    _: KW_ONLY
    webhook_targets: WebhookTargets
    mail: MailSender
    poster: WebhookPoster

    # -- settings ---------------------------------------------------------------------

    def configure(
        self,
        actor: Actor,
        nip: str,
        *,
        low_balance_grosze: int | None = UNSET,
        email: str | None = UNSET,
        webhook_url: str | None = UNSET,
        webhook_secret: str | None = UNSET,
    ) -> SettingsView:
        """Change what is given (None removes it). Who may: the company's admin
        (`users:manage`: whoever decides which people and systems act for the company)."""
        nip = valid_nip(nip)
        actor.require(USERS_MANAGE, company_nip=nip)
        _check_settings(low_balance_grosze, email, webhook_url, webhook_secret)
        if webhook_url not in (UNSET, None):
            self.webhook_targets.check(webhook_url)  # and again before each delivery
        with self.db.transaction() as session:
            find_company(session, nip)
            now = self.clock()
            row = session.get(NotificationSettings, nip, with_for_update=True)
            if row is None:
                row = NotificationSettings(company_nip=nip, low_balance_episode=0, updated_at=now)
                session.add(row)
            changed: dict[str, object] = {}
            if low_balance_grosze is not UNSET and low_balance_grosze != row.low_balance_grosze:
                row.low_balance_grosze, row.low_since = (low_balance_grosze, None)  # a new threshold starts afresh
                changed["low_balance_grosze"] = low_balance_grosze
            for name, value in (("email", email), ("webhook_url", webhook_url)):
                if value is not UNSET:
                    setattr(row, name, value)
                    changed[name] = value
            if webhook_secret is not UNSET:
                row.webhook_secret = webhook_secret
                changed["webhook_secret"] = "changed" if webhook_secret else "removed"
            if row.webhook_url and not row.webhook_secret:
                raise InvalidRequest("a webhook needs a secret to sign its body with: give --webhook-secret-file")
            row.updated_at = now
            record_event(session, now, actor.name, "notify.configure", f"company:{nip}", **changed)
            return _view(row)

    def settings(self, actor: Actor, nip: str) -> SettingsView:
        nip = valid_nip(nip)
        actor.require(STATEMENT_READ, company_nip=nip)
        with self.db.read() as session:
            find_company(session, nip)
            row = session.get(NotificationSettings, nip)
            return _view(row) if row else SettingsView(nip, None, None, None, False, None)

    # -- the checks -------------------------------------------------------------------

    def scan(self, *, actor: Actor) -> ScanRun:
        """Decide the warnings due now (each in its company's own transaction): the
        operator's job, for every company at once."""
        actor.require_operator("scan for warnings")
        with self.db.read() as session:
            nips = session.scalars(
                select(NotificationSettings.company_nip).order_by(NotificationSettings.company_nip)
            ).all()
        low, expiring, recovered = [], [], []
        for nip in nips:
            with self.db.transaction() as session:
                row = session.get(NotificationSettings, nip, with_for_update=True)
                if row is None or not (row.email or row.webhook_url):
                    continue
                company = find_company(session, nip)
                outcome = self._check_balance(session, row, company)
                if outcome == "recovered":
                    recovered.append(nip)
                elif outcome:
                    low.append(outcome)
                expiring.extend(self._check_expiring(session, row, company))
        return ScanRun(tuple(low), tuple(expiring), tuple(recovered))

    def _check_balance(self, session: Session, row: NotificationSettings, company: Company) -> str | None:
        if row.low_balance_grosze is None:
            return None
        available = Ledger(session, self.clock).balance(company_account(company.nip)).available
        if available >= row.low_balance_grosze:
            if row.low_since is None:
                return None
            row.low_since = None
            return "recovered"
        if row.low_since is not None:
            return None  # this episode was warned about
        now = self.clock()
        row.low_balance_episode += 1
        row.low_since = now
        key = f"low-balance:{company.nip}:{row.low_balance_episode}"
        body = {
            "event": "low_balance",
            "id": key,
            "company_nip": company.nip,
            "company_name": company.name,
            "at": wire_time(now),
            "available": format_pln(available),
            "threshold": format_pln(row.low_balance_grosze),
            "virtual_account": company.virtual_account,
        }
        text = (
            f"Dostępne saldo konta {company.name} (NIP {company.nip}) w hubie kuponów opłat"
            f" wynosi {format_amount_pl(available)},"
            f" poniżej progu {format_amount_pl(row.low_balance_grosze)}.\n\n"
            "Nowe kupony można wydać tylko do wysokości dostępnego salda."
            f" {self._topup_text(company)}\n"
        )
        self._warn(session, row, LOW_BALANCE, key, body, f"Saldo poniżej progu: {company.name}", text)
        return key

    def _topup_text(self, company: Company) -> str:
        if company.virtual_account is not None:
            return f"Konto zasila przelew na rachunek {format_nrb(company.virtual_account)}."
        # An IBAN escrow account: no virtual accounts, the NIP in the title names the company.
        return (
            f"Konto zasila przelew na rachunek {format_iban(self.escrow_account)} "
            f"z tytułem „{topup_title(company.nip)}”."
        )

    def _check_expiring(self, session: Session, row: NotificationSettings, company: Company) -> list[str]:
        now = self.clock()
        until = now + timedelta(days=self.expiry_warning_days)
        coupons = session.execute(
            select(Coupon.id, Coupon.amount_grosze, Coupon.expires_at)
            .where(
                Coupon.company_id == company.id,
                Coupon.status == ISSUED,
                Coupon.expires_at > now,
                Coupon.expires_at <= until,
            )
            .order_by(Coupon.expires_at, Coupon.id)
        ).all()
        by_day: dict[date, list] = {}
        for coupon in coupons:
            by_day.setdefault(business_day(coupon.expires_at), []).append(coupon)
        made = []
        for day, group in sorted(by_day.items()):
            key = f"expiring:{company.nip}:{day.isoformat()}"
            if session.scalar(select(Notification.id).where(Notification.key == key)) is not None:
                continue
            total = sum(c.amount_grosze for c in group)
            body = {
                "event": "coupons_expiring",
                "id": key,
                "company_nip": company.nip,
                "company_name": company.name,
                "at": wire_time(now),
                "expires_on": day.isoformat(),
                "count": len(group),
                "amount": format_pln(total),
                "coupons": [format_coupon_id(c.id) for c in group],
            }
            # no coupon ids in e-mail: a coupon id is as good as money to whoever reads it
            text = (
                f"{count_pl(len(group), 'kupon', 'kupony', 'kuponów')} firmy {company.name}"
                f" (NIP {company.nip}) na łączną kwotę {format_amount_pl(total)}"
                f" traci ważność {day.isoformat()}.\n\n"
                "Niewykorzystane kupony wygasają, a ich kwota wraca na konto firmy. "
                "Listę kuponów pokazuje `hub coupons list` lub portal firmy.\n"
            )
            self._warn(
                session,
                row,
                COUPONS_EXPIRING,
                key,
                body,
                f"Kupony tracą ważność {day.isoformat()}: {company.name}",
                text,
            )
            made.append(key)
        return made

    def _warn(
        self, session: Session, row: NotificationSettings, event: str, key: str, body: dict, subject: str, text: str
    ) -> None:
        now = self.clock()
        document = json.dumps(body, sort_keys=True, ensure_ascii=False)
        notification = Notification(key=key, company_nip=row.company_nip, event=event, body=document, created_at=now)
        if row.email:
            record = enqueue(session, EMAIL, key, {"to": row.email, "subject": subject, "text": text}, now)
            notification.email_outbox_id = record.id
        if row.webhook_url:
            if not row.webhook_secret:  # configure() refuses a webhook without one
                raise HubError(f"the webhook of company {row.company_nip} has no secret to sign with")
            payload = {
                "url": row.webhook_url,
                "body": document,
                "signature": webhook_signature(row.webhook_secret, document.encode()),
                "event": event,
                "delivery": key,
            }
            notification.webhook_outbox_id = enqueue(session, WEBHOOK, key, payload, now).id
        session.add(notification)
        record_event(session, now, "hub", "notify.warn", f"company:{row.company_nip}", key=key, event=event)

    # -- delivery and history -----------------------------------------------------------

    def deliver(self, *, actor: Actor, retry_failed: bool = False, outbox: Outbox | None = None) -> DeliveryRun:
        """Send the due e-mails and webhooks; what fails is retried by a later run, with backoff.
        `retry_failed` first puts back what was given up (FAILED), once its cause is fixed."""
        actor.require_operator("send warnings")
        couriers: dict[str, Courier] = {
            EMAIL: EmailCourier(self.mail),
            WEBHOOK: WebhookCourier(self.webhook_targets, self.poster),
        }
        outbox = outbox or Outbox(self.db, self.clock)
        if retry_failed:
            outbox.requeue_failed(list(couriers))
        return outbox.deliver(couriers)

    def history(self, actor: Actor, nip: str | None = None, limit: int = 100, offset: int = 0) -> list[DeliveryView]:
        """The latest warnings and how each channel's delivery went, newest first (`offset`: skip that many)."""
        if nip is None:
            if not actor.is_operator:
                raise NotAuthorized(f"{actor.name} may see only its own company's notifications: give --nip")
        else:
            nip = valid_nip(nip)
            actor.require(STATEMENT_READ, company_nip=nip)
        email, webhook = aliased(OutboxRecord), aliased(OutboxRecord)
        query = (
            select(Notification, email, webhook)
            .outerjoin(email, email.id == Notification.email_outbox_id)
            .outerjoin(webhook, webhook.id == Notification.webhook_outbox_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset(offset)
            .limit(limit)
        )
        if nip is not None:
            query = query.where(Notification.company_nip == nip)
        views = []
        with self.db.read() as session:
            for notification, by_email, by_webhook in session.execute(query):
                for channel, record in (("email", by_email), ("webhook", by_webhook)):
                    if record is not None:
                        views.append(
                            DeliveryView(
                                notification.key,
                                notification.company_nip,
                                notification.event,
                                channel,
                                record.status,
                                record.attempts,
                                record.last_error,
                                notification.created_at,
                                record.next_attempt_at if record.status == OutboxStatus.PENDING else None,
                                record.finished_at,
                            )
                        )
        return views


def _check_settings(low_balance_grosze, email, webhook_url, webhook_secret) -> None:
    if low_balance_grosze not in (UNSET, None) and low_balance_grosze < 0:
        raise InvalidRequest("a low-balance threshold is at least 0.00")
    if email not in (UNSET, None) and (len(email) > 254 or not _EMAIL.match(email)):
        raise InvalidRequest(f"{email!r} is not an e-mail address")
    if webhook_url not in (UNSET, None) and (len(webhook_url) > 500 or not _WEBHOOK_URL.match(webhook_url)):
        raise InvalidRequest(f"{webhook_url!r} is not an http(s) URL")
    if webhook_secret not in (UNSET, None) and not WEBHOOK_SECRET_CHARS_MIN <= len(webhook_secret) <= 200:
        raise InvalidRequest(
            f"a webhook secret has {WEBHOOK_SECRET_CHARS_MIN} to 200 characters (e.g. `openssl rand -hex 32`)"
        )


def _view(row: NotificationSettings) -> SettingsView:
    return SettingsView(
        row.company_nip, row.low_balance_grosze, row.email, row.webhook_url, bool(row.webhook_secret), row.low_since
    )
