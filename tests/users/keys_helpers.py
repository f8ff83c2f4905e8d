"""Making API keys in tests, through the API as a signed-in user would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account


async def make_key(
    client: httpx.AsyncClient, owner: Account, *scopes: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": fields.pop("name", "script"), "scopes": list(scopes), **fields}
    response = await client.post("/api/v1/api-keys", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
