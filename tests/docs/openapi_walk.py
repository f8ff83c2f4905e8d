"""What the document tests walk: each 2xx JSON response schema of an OpenAPI document, and a
document of one such response for the walks' own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def success_schemas(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, schema) of each 2xx ``application/json`` response of every operation."""
    for path, item in spec["paths"].items():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media:
                    yield path, media["schema"]


def one_response(schemas: dict[str, Any]) -> dict[str, Any]:
    """A document whose one operation (``GET /x``) answers the component ``Out`` of
    ``schemas``."""
    out = {"$ref": "#/components/schemas/Out"}
    response = {"content": {"application/json": {"schema": out}}}
    return {
        "paths": {"/x": {"get": {"responses": {"200": response}}}},
        "components": {"schemas": schemas},
    }
