"""Notification preferences over HTTP: defaults, replacement, the phone number (E.164) and
what is refused (422 naming the field, nothing changed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_problem, error_fields
from tests.notifications.conftest import PHONE, put_preferences

V1 = "/api/v1/notifications/preferences"
ON = {"inApp": True, "email": True, "sms": False}
DEFAULTS = {
    "phoneNumber": None,
    "channels": {
        "trade": ON,
        "report": ON,
        "price_alert": ON,
        "account": ON,
        "billing": ON,
        "security": ON,
    },
}


async def current(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.get(V1, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_by_default_every_kind_goes_by_email_and_none_by_sms(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert await current(client, alice) == DEFAULTS


async def test_a_replacement_is_kept_and_kinds_left_out_go_back_to_their_defaults(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    first = await put_preferences(
        client,
        alice,
        {
            "phoneNumber": "+1 (415) 555-2671",
            "channels": {
                "trade": {"email": False, "sms": True},
                "report": {"email": False, "sms": False},
            },
        },
    )
    assert first.status_code == 200, first.text
    expected = {
        "phoneNumber": PHONE,
        "channels": {
            **DEFAULTS["channels"],
            "trade": {"inApp": True, "email": False, "sms": True},
            "report": {"inApp": True, "email": False, "sms": False},
        },
    }
    assert first.json() == expected
    assert await current(client, alice) == expected

    second = await put_preferences(
        client, alice, {"channels": {"account": {"email": False, "sms": False}}}
    )
    assert second.status_code == 200, second.text
    assert await current(client, alice) == {
        "phoneNumber": None,
        "channels": {
            **DEFAULTS["channels"],
            "account": {"inApp": True, "email": False, "sms": False},
        },
    }
    assert await current(client, bob) == DEFAULTS


async def test_what_is_read_can_be_sent_back_as_it_is(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The answer names ``inApp`` for every kind, and a replacement carrying it was refused
    (extra field): reading, changing one switch and sending it back failed."""
    read = await current(client, alice)
    read["channels"]["report"]["email"] = False

    sent = await put_preferences(client, alice, read)

    assert sent.status_code == 200, sent.text
    assert sent.json() == read
    off = {"inApp": False, "email": True, "sms": False}
    refused = await put_preferences(client, alice, {"channels": {"trade": off}})
    assert error_fields(assert_problem(refused, 422)) == {"body.channels.trade.inApp"}
    assert await current(client, alice) == read


async def test_the_profile_shows_and_sets_the_same_choices_for_every_kind_at_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """``GET /users/me``'s two switches are these preferences: SMS for one kind shows SMS on;
    turning SMS on there chooses it for every kind (with the number kept here), and without a
    number it is refused, nothing changed."""
    refused = await client.patch(
        "/api/v1/users/me",
        json={"preferences": {"theme": "dark", "notifications": {"sms": True}}},
        headers=alice.headers,
    )
    assert error_fields(assert_problem(refused, 422)) == {"body.preferences.notifications.sms"}
    assert "phone number" in refused.json()["detail"]
    assert await current(client, alice) == DEFAULTS
    me = await client.get("/api/v1/users/me", headers=alice.headers)
    assert me.json()["preferences"] == {
        "theme": "system",
        "notifications": {"email": True, "sms": False},
    }

    one = {"email": True, "sms": True}
    chosen = await put_preferences(
        client, alice, {"phoneNumber": PHONE, "channels": {"trade": one}}
    )
    assert chosen.status_code == 200, chosen.text
    me = await client.get("/api/v1/users/me", headers=alice.headers)
    assert me.json()["preferences"]["notifications"] == {"email": True, "sms": True}

    everywhere = await client.patch(
        "/api/v1/users/me",
        json={"preferences": {"notifications": {"email": False, "sms": True}}},
        headers=alice.headers,
    )

    assert everywhere.status_code == 200, everywhere.text
    texted = {"inApp": True, "email": False, "sms": True}
    assert await current(client, alice) == {
        "phoneNumber": PHONE,
        "channels": {**dict.fromkeys(DEFAULTS["channels"], texted), "security": ON},
    }


async def test_security_may_be_sent_back_as_it_is_but_not_changed(
    client: httpx.AsyncClient, alice: Account
) -> None:
    same = await put_preferences(
        client, alice, {"channels": {"security": {"email": True, "sms": False}}}
    )
    assert same.status_code == 200, same.text

    for choice in ({"email": False, "sms": False}, {"email": True, "sms": True}):
        refused = await put_preferences(
            client, alice, {"phoneNumber": PHONE, "channels": {"security": choice}}
        )
        problem = assert_problem(refused, 422)
        assert error_fields(problem) == {"body.channels.security"}
        assert "always" in problem["detail"]
    assert await current(client, alice) == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phoneNumber": "4155552671"}, "body.phoneNumber"),
        ({"phoneNumber": "+0155552671"}, "body.phoneNumber"),
        ({"phoneNumber": "+1415555267123456"}, "body.phoneNumber"),
        ({"phoneNumber": "+1 415 CALL ME"}, "body.phoneNumber"),
        ({"phoneNumber": 14155552671}, "body.phoneNumber"),
        ({"channels": {"trade": {"email": True, "sms": True}}}, "body.phoneNumber"),
        ({"channels": {"trade": {"email": "yes", "sms": False}}}, "body.channels.trade.email"),
        ({"channels": {"trade": {"email": True}}}, "body.channels.trade.sms"),
        (
            {"channels": {"trade": {"email": True, "sms": False, "push": True}}},
            "body.channels.trade.push",
        ),
        (
            {"channels": {"newsletter": {"email": True, "sms": False}}},
            "body.channels.newsletter",
        ),
        ({"channels": ["trade"]}, "body.channels"),
        ({"quietHours": "22-07"}, "body.quietHours"),
    ],
)
async def test_bad_preferences_are_422_naming_the_field_and_change_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    kept = {"phoneNumber": PHONE, "channels": {"report": {"email": False, "sms": True}}}
    assert (await put_preferences(client, alice, kept)).status_code == 200
    before = await current(client, alice)

    response = await put_preferences(client, alice, body)

    assert error_fields(assert_problem(response, 422)) == {field}
    assert await current(client, alice) == before
