"""Email delivery: SMTP when configured, otherwise .eml files in the data dir (for self-hosting
without a mail server: the reset email of `make run` is a file you can open).

With a username set, the credentials only ever travel over TLS: implicit TLS (``tls``) or
STARTTLS, which ``auto`` then requires rather than merely uses when offered (an attacker can
strip the offer). A server that offers no STARTTLS, or ``none`` with a username, is a
configuration error: nothing is sent, the message waits for a retry, `/readyz` names it
(``smtp``) and it is logged as ``vendor_misconfigured``. Without a username ``auto`` stays
opportunistic."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import anyio

from flint.config import Settings
from flint.kit import vendor_status
from flint.kit.files import write_private
from flint.kit.time import utcnow
from flint.notifications.errors import DeliveryError

__all__ = ["DeliveryError", "SmtpMisconfigured", "build_message", "send"]

NAME = "smtp"
"""The name in `/readyz` and the logs."""


class SmtpMisconfigured(DeliveryError):
    """The settings would send the password in clear: nothing was sent, and nothing will be
    until an operator changes them (or the server offers TLS again)."""


def build_message(settings: Settings, *, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="flint.localhost")
    message.set_content(body)
    return message


async def send(settings: Settings, *, to: str, subject: str, body: str) -> None:
    message = build_message(settings, to=to, subject=subject, body=body)
    if settings.email_backend == "file":  # owner-only: a reset email holds a live token
        name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path = settings.data_dir / "outbox" / name
        await anyio.to_thread.run_sync(write_private, path, message.as_bytes())
        return
    try:
        await _deliver(settings, message)
    except SmtpMisconfigured:
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP delivery failed: {type(exc).__name__}: {exc}") from exc


async def _deliver(settings: Settings, message: EmailMessage) -> None:
    security = settings.smtp_security
    credentials = settings.smtp_username is not None
    if credentials and security == "none":
        raise _refused(settings, "FLINT_SMTP_SECURITY=none would send FLINT_SMTP_PASSWORD in clear")
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=security == "tls",
        start_tls=False,  # decided below, once the server has said what it offers
        timeout=settings.smtp_timeout_seconds,
    )
    await client.connect()
    try:
        await client.ehlo()
        if security in ("auto", "starttls"):
            offered = client.supports_extension("starttls")
            if offered:
                await client.starttls()
            elif credentials or security == "starttls":
                raise _refused(
                    settings,
                    "the SMTP server offers no STARTTLS, which credentials (and "
                    "FLINT_SMTP_SECURITY=starttls) require; FLINT_SMTP_SECURITY=tls for "
                    "implicit TLS (port 465)",
                )
        if credentials:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            await client.login(settings.smtp_username or "", password)
        await client.send_message(message)
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
    vendor_status.clear(NAME, settings.data_dir)


def _refused(settings: Settings, reason: str) -> SmtpMisconfigured:
    """Under the data dir too: the worker sends, the API processes answer /readyz."""
    vendor_status.report(NAME, reason, settings.data_dir)
    return SmtpMisconfigured(reason)
