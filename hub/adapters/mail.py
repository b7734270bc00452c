"""E-mail through the configured SMTP server (hub.notify.couriers.MailSender).

An SMTP server's permanent refusal (5xx) is final (Refused); a temporary one (4xx)
or none is retried by the outbox (Transient).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hub.config import NotifySettings
from hub.outbox import Refused, Transient


class SmtpSender:
    """hub.notify.couriers.MailSender through the configured SMTP server."""

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
                    smtp.login(s.smtp_user, s.smtp_password_file.read_text().strip() if s.smtp_password_file else "")
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
            if 500 <= error.smtp_code < 600:
                raise Refused(f"the mail server refused it: {text}") from None
            raise Transient(f"the mail server deferred it: {text}") from None
        except smtplib.SMTPRecipientsRefused as error:
            raise Refused(f"the mail server refused the recipient: {_recipients(error.recipients)}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise Transient(
                f"the mail server {s.smtp_host}:{s.smtp_port} is unreachable: {type(error).__name__}: {error}"
            ) from None
        if refused:
            raise Refused(f"the mail server refused the recipient: {_recipients(refused)}")
        return {"to": payload["to"], "message_id": message["Message-ID"]}


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _recipients(refused: dict) -> str:
    return ", ".join(f"{address} ({code} {_text(text)})" for address, (code, text) in refused.items())
