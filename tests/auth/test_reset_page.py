"""The page a reset email links to: served by Flint itself, static, and safe to open."""

from __future__ import annotations

import re

import httpx


async def test_reset_link_in_the_email_opens_a_page_that_confirms_through_the_api(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/reset-password", params={"token": "abc"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/v1/auth/reset-password/confirm" in page.text
    assert "newPassword" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "connect-src 'self'" in page.headers["content-security-policy"]


async def test_reset_page_never_echoes_the_query_into_the_html(client: httpx.AsyncClient) -> None:
    evil = '"><script>alert(1)</script>'
    page = await client.get("/reset-password", params={"token": evil})

    assert page.status_code == 200
    assert evil not in page.text
    assert "alert(1)" not in page.text


async def test_reset_page_loads_nothing_from_another_origin(client: httpx.AsyncClient) -> None:
    page = await client.get("/reset-password")

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/reset-password" not in paths
