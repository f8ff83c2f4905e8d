"""SMTP with credentials never sends them in clear: against a local SMTP server (aiosmtpd) that
does not offer STARTTLS but would accept a plain-text login, and one that offers STARTTLS with a
test CA's certificate. Without credentials, ``auto`` stays opportunistic."""

from __future__ import annotations

import email
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.kit import vendor_status
from flint.notifications import service
from flint.notifications.errors import DeliveryError
from flint.notifications.models import OutboxMessage
from tests.stubs.tls import CertificateSet, make_certificates

USER, PASSWORD = "flint@example.com", "smtp-password-1"


@dataclass
class Server:
    """What the SMTP server saw: logins (with whether they came over TLS) and messages."""

    port: int
    logins: list[tuple[str, bool]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.password.decode(), session.ssl is not None))
        good = (auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
        return AuthResult(success=good)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(server: Server, tls: ssl.SSLContext | None) -> Controller:
    controller = Controller(
        server,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=server.authenticate,
        auth_require_tls=False,  # a careless server: it would take a password in clear
        tls_context=tls,  # None: no STARTTLS offered
    )
    controller.start()
    return controller


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    return make_certificates(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def plain_server() -> Iterator[Server]:
    server = Server(_free_port())
    controller = _serve(server, None)
    try:
        yield server
    finally:
        controller.stop()
        vendor_status.clear("smtp")


@pytest.fixture
def starttls_server(certs: CertificateSet, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))  # Flint trusts the test CA
    server = Server(_free_port())
    controller = _serve(server, context)
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def settings_overrides(plain_server: Server) -> dict[str, Any]:
    """The app's own settings name the plain server, so `/readyz` has an `smtp` check."""
    return {"smtp_host": "127.0.0.1", "smtp_port": plain_server.port}


def _sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def queued(app: FastAPI) -> uuid.UUID:
    async with _sessions(app)() as session:
        message = await service.queue_email(
            session, user_id=None, to="ada@example.com", subject="Hi", body="Body", kind="test"
        )
        await session.commit()
        return message.id


async def deliver(app: FastAPI, settings: Settings, message_id: uuid.UUID) -> str:
    async with _sessions(app)() as session:
        try:
            return await service.deliver(session, settings, message_id)
        finally:
            await session.commit()


async def stored(app: FastAPI, message_id: uuid.UUID) -> OutboxMessage:
    async with _sessions(app)() as session:
        message = await session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def with_credentials(settings: Settings, port: int, security: str = "auto") -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_username": USER,
            "smtp_password": SecretStr(PASSWORD),
            "smtp_security": security,
        }
    )


@pytest.mark.parametrize("security", ["auto", "starttls"])
async def test_credentials_are_never_sent_to_a_server_without_starttls(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    plain_server: Server,
    security: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    message_id = await queued(app)

    with pytest.raises(DeliveryError) as refused:  # a configuration error, retried later
        await deliver(app, with_credentials(settings, plain_server.port, security), message_id)

    assert plain_server.logins == []  # the password never went out
    assert plain_server.messages == []
    assert "STARTTLS" in str(refused.value)
    assert PASSWORD not in str(refused.value)
    row = await stored(app, message_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "offers no STARTTLS" in row.last_error
    check = (await client.get("/readyz")).json()["checks"]["smtp"]
    assert check["status"] == "error"
    assert "STARTTLS" in check["detail"]
    assert any("vendor_misconfigured" in record.getMessage() for record in caplog.records)


async def test_security_none_with_credentials_is_refused_before_connecting(
    app: FastAPI, settings: Settings, plain_server: Server
) -> None:
    message_id = await queued(app)
    with pytest.raises(DeliveryError, match="in clear"):
        await deliver(app, with_credentials(settings, plain_server.port, "none"), message_id)
    assert (plain_server.logins, plain_server.messages) == ([], [])


async def test_without_credentials_auto_stays_opportunistic(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, plain_server: Server
) -> None:
    anonymous = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": plain_server.port, "smtp_security": "auto"}
    )
    message_id = await queued(app)
    assert await deliver(app, anonymous, message_id) == "sent"
    assert len(plain_server.messages) == 1
    assert (await client.get("/readyz")).json()["checks"]["smtp"]["status"] == "ok"


async def test_with_starttls_offered_the_login_happens_inside_tls(
    app: FastAPI, settings: Settings, starttls_server: Server
) -> None:
    message_id = await queued(app)
    assert (
        await deliver(app, with_credentials(settings, starttls_server.port), message_id) == "sent"
    )
    assert starttls_server.logins == [(PASSWORD, True)]
    assert len(starttls_server.messages) == 1
