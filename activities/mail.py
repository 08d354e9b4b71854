"""The e-mail channel: one plain-text message per notification over SMTP (stdlib smtplib)."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from activities.delivery import PermanentFailure, TransientFailure, redact
from domain.models import Notification, Role


def message_id(notification_id: str) -> str:
    """A Message-ID that is the same on every attempt, so a mail client can drop a duplicate."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@spoorwerk>"


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"email: SMTP {code} {redact(text)}".rstrip()


class EmailChannel:
    """Sends each notification to its recipients, or else to the configured addresses for its role."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        ca_file: Path | None = None,
        default_recipients: Mapping[str, Sequence[str]] | Mapping[Role, Sequence[str]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ca_file = ca_file
        self.default_recipients = {str(role): list(addresses) for role, addresses in (default_recipients or {}).items()}

    def addresses(self, notification: Notification) -> list[str]:
        # `recipients` is new on Notification; notifications from older workflow code lack it.
        own = list(getattr(notification, "recipients", None) or [])
        return own or self.default_recipients.get(str(notification.recipient_role), [])

    def message(self, notification: Notification, to: Sequence[str]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = notification.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(notification.notification_id)
        msg.set_content(notification.body)
        return msg

    def deliver(self, notification: Notification) -> None:
        to = self.addresses(notification)
        if not to:
            raise PermanentFailure(f"email: no e-mail address for role {notification.recipient_role}")
        msg = self.message(notification, to)
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError as err:  # refused, unreachable, timed out, unknown host
            raise TransientFailure(f"email: cannot connect ({type(err).__name__})") from None
        try:
            refused = self._send(smtp, msg, to)
        finally:
            # The message is handed over once DATA is accepted: a failing QUIT must not undo that.
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        if refused:
            # Some recipients have it; trying again would send it to them twice.
            code, reply = next(iter(refused.values()))
            raise PermanentFailure(f"{_reply(code, reply)} (refused {len(refused)} of {len(to)} recipients)")

    def _send(self, smtp: smtplib.SMTP, msg: EmailMessage, to: Sequence[str]) -> dict:
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            return smtp.send_message(msg, from_addr=None, to_addrs=list(to))
        except smtplib.SMTPRecipientsRefused as err:
            # Every recipient refused: nothing was sent, so a temporary refusal is worth a retry.
            codes = [code for code, _ in err.recipients.values()]
            code, reply = next(iter(err.recipients.values()))
            failure = PermanentFailure if all(c >= 500 for c in codes) else TransientFailure
            raise failure(f"{_reply(code, reply)} (recipient refused)") from None
        except smtplib.SMTPResponseException as err:  # sender refused, AUTH failed, DATA refused, …
            failure = PermanentFailure if err.smtp_code >= 500 else TransientFailure
            raise failure(_reply(err.smtp_code, err.smtp_error)) from None
        except smtplib.SMTPNotSupportedError as err:
            # E.g. no STARTTLS offered: never fall back to plain text; wait for the server to be fixed.
            raise TransientFailure(f"email: {redact(str(err))}") from None
        except (smtplib.SMTPException, OSError) as err:  # disconnects, timeouts, TLS handshake errors
            raise TransientFailure(f"email: {type(err).__name__}") from None

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
