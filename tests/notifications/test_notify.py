"""`notify`, the one entry point: always in the app, then email and SMS as the user's
preferences for the kind say; security notices by email whatever the preferences."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.notifications.models import Notification, OutboxMessage
from flint.notifications.service import notify
from flint.notifications.sms import MAX_LENGTH, text_of
from tests.conftest import Account
from tests.notifications.conftest import PHONE, outbox, put_preferences, send


async def in_app(sessions: async_sessionmaker[AsyncSession], who: Account) -> list[Notification]:
    async with sessions() as session:
        stmt = (
            select(Notification)
            .where(Notification.user_id == uuid.UUID(who.user_id))
            .order_by(Notification.created_at)
        )
        return list((await session.execute(stmt)).scalars())


async def test_by_default_a_notification_is_in_the_app_and_emailed(
    sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    sent = await send(
        sessions,
        alice,
        "trade",
        title="Filled: bought 1 AAPL",
        body="Your order filled.",
        data={"tradeId": "t-1"},
    )

    [row] = await in_app(sessions, alice)
    assert (row.id, row.kind, row.title, row.body) == (
        sent.id,
        "trade",
        "Filled: bought 1 AAPL",
        "Your order filled.",
    )
    assert row.data == {"tradeId": "t-1"}
    assert row.read_at is None
    [mail] = await outbox(sessions)
    assert (mail.channel, mail.kind, mail.recipient) == ("email", "trade", alice.email)
    assert (mail.subject, mail.body, mail.status) == (
        "Filled: bought 1 AAPL",
        "Your order filled.",
        "pending",
    )
    assert mail.payload == {"notificationId": str(sent.id)}


async def test_the_preferences_of_each_kind_choose_its_channels(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    chosen = await put_preferences(
        client,
        alice,
        {
            "phoneNumber": PHONE,
            "channels": {
                "trade": {"email": False, "sms": True},
                "report": {"email": False, "sms": False},
                "price_alert": {"email": True, "sms": True},
            },
        },
    )
    assert chosen.status_code == 200, chosen.text

    await send(sessions, alice, "trade", title="Filled", body="1 AAPL at 190.")
    await send(sessions, alice, "report", title="Report ready")
    await send(sessions, alice, "price_alert", title="AAPL above 200", body="At 200.01.")
    await send(sessions, alice, "account", title="Link broken")

    assert [row.kind for row in await in_app(sessions, alice)] == [
        "trade",
        "report",
        "price_alert",
        "account",
    ]
    sent = [(m.kind, m.channel, m.recipient) for m in await outbox(sessions)]
    assert sorted(sent) == sorted(
        [
            ("trade", "sms", PHONE),
            ("price_alert", "email", alice.email),
            ("price_alert", "sms", PHONE),
            ("account", "email", alice.email),  # not named: the default
        ]
    )
    [trade_sms] = [m for m in await outbox(sessions, "sms") if m.kind == "trade"]
    assert trade_sms.subject == "Filled"
    assert trade_sms.body == "Flint: Filled\n1 AAPL at 190."


async def test_a_security_notice_is_emailed_whatever_the_preferences_and_never_texted(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    none_by_email = {"email": False, "sms": True}
    response = await put_preferences(
        client,
        alice,
        {
            "phoneNumber": PHONE,
            "channels": dict.fromkeys(("trade", "report", "price_alert", "account"), none_by_email),
        },
    )
    assert response.status_code == 200, response.text

    await send(
        sessions,
        alice,
        "security",
        title="Reset your Flint password",
        body="A reset was asked for; the link went by email.",
        email_body="Reset token: secret-token",
    )

    [row] = await in_app(sessions, alice)
    assert row.kind == "security"
    assert "secret-token" not in row.body
    [mail] = await outbox(sessions)
    assert (mail.channel, mail.recipient) == ("email", alice.email)
    assert mail.body == "Reset token: secret-token"


async def test_an_sms_says_what_happened_in_at_most_two_segments() -> None:
    assert text_of("AAPL above 200", "At 200.01.") == "Flint: AAPL above 200\nAt 200.01."
    long = text_of("Title", "x" * 1000)
    assert len(long) == MAX_LENGTH
    assert long.endswith("…")


async def test_a_rolled_back_transaction_leaves_no_notification_and_sends_nothing(
    sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    async with sessions() as session:
        await notify(session, user_id=uuid.UUID(alice.user_id), kind="trade", title="t", body="b")
        assert session.info["after_commit"]  # the dispatch waits for the commit
        await session.rollback()

    async with sessions() as session:
        for table in (Notification, OutboxMessage):
            count = await session.scalar(select(func.count()).select_from(table))
            assert count == 0, table.__tablename__


async def test_a_user_who_no_longer_exists_gets_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        sent = await notify(session, user_id=uuid.uuid4(), kind="trade", title="t", body="b")
        await session.commit()

    assert sent is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_an_unknown_kind_is_refused(
    sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="newsletter"):
            await notify(
                session, user_id=uuid.UUID(alice.user_id), kind="newsletter", title="t", body="b"
            )


async def test_the_profiles_email_switch_turned_off_sends_no_email_but_security_notices(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    """``PATCH /users/me`` took ``notifications: {email: false}``, showed it back, and every
    notification went on being emailed: nothing read it. It is the same choice as the
    preferences' now, for every kind at once."""
    off = await client.patch(
        "/api/v1/users/me",
        json={"preferences": {"notifications": {"email": False}}},
        headers=alice.headers,
    )
    assert off.status_code == 200, off.text
    assert off.json()["preferences"]["notifications"] == {"email": False, "sms": False}

    for kind in ("trade", "report", "price_alert", "account", "billing", "security"):
        await send(sessions, alice, kind, title=f"A {kind} notice")

    assert len(await in_app(sessions, alice)) == 6
    assert [(m.kind, m.channel) for m in await outbox(sessions)] == [("security", "email")]
