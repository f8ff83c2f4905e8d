"""Email delivery: SMTP when configured, otherwise .eml files in the data dir (for self-hosting
without a mail server: the reset email of `make run` is a file you can open)."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import anyio

from flint.config import Settings
from flint.kit.files import write_private
from flint.kit.time import utcnow
from flint.notifications.errors import DeliveryError

__all__ = ["DeliveryError", "build_message", "send"]

_START_TLS: dict[str, bool | None] = {"auto": None, "starttls": True, "tls": False, "none": False}


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
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=_START_TLS[settings.smtp_security],
            use_tls=settings.smtp_security == "tls",
            timeout=settings.smtp_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP delivery failed: {type(exc).__name__}: {exc}") from exc
