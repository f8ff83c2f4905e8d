"""Every served operation is in an OpenAPI document: /api/v1 in /openapi.json, the unversioned
/api aliases in /api/openapi.json, each with its own Swagger UI and ReDoc page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flint.app.methods import templates
from tests.conftest import served_document
from tests.docs.test_offline_docs import fetch_page

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
async def alias_spec(client: httpx.AsyncClient) -> dict[str, Any]:
    return await served_document(client, "/api/openapi.json")


def documented(*documents: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for document in documents
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_served_api_operation_is_in_one_of_the_documents(
    app: FastAPI, spec: dict[str, Any], alias_spec: dict[str, Any]
) -> None:
    served = {
        (method, template.path)
        for template in templates(app.routes)
        if template.path.startswith("/api/") and template.path not in DOCS
        for method in template.methods
    }
    assert len(served) > 140
    assert served - documented(spec, alias_spec) == set()
    assert documented(alias_spec) == {op for op in served if not op[1].startswith("/api/v1/")}


DOCS = {"/api/openapi.json", "/api/docs", "/api/redoc"}


def test_the_alias_document_is_the_versioned_one_at_the_unversioned_paths(
    spec: dict[str, Any], alias_spec: dict[str, Any]
) -> None:
    versioned = {
        path.removeprefix("/api/v1"): item
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
    }
    aliases = {path.removeprefix("/api"): item for path, item in alias_spec["paths"].items()}
    assert aliases.keys() == versioned.keys()
    for path, item in aliases.items():
        assert item == versioned[path], path  # same ids, summaries, schemas, errors, security
    schemas = alias_spec["components"]["schemas"]
    assert schemas == {name: spec["components"]["schemas"][name] for name in schemas}
    assert set(spec["components"]["schemas"]) - set(schemas) == {"Health", "Check", "Readiness"}
    assert alias_spec["components"]["securitySchemes"] == spec["components"]["securitySchemes"]
    assert "/api/v1" not in {path[:7] for path in alias_spec["paths"]}


@pytest.mark.parametrize(
    ("page", "document"),
    [("/docs", "/openapi.json"), ("/api/docs", "/api/openapi.json")],
)
async def test_each_swagger_page_shows_its_own_document(
    client: httpx.AsyncClient, page: str, document: str
) -> None:
    script = "".join((await fetch_page(client, page)).scripts)
    assert f"url: '{document}'" in script


async def test_the_api_redoc_page_shows_the_alias_document(client: httpx.AsyncClient) -> None:
    page = await fetch_page(client, "/api/redoc")
    assert [value for _, name, value in page.found if name == "spec-url"] == ["/api/openapi.json"]


@pytest.mark.parametrize("page", ["/docs", "/api/docs"])
async def test_the_authorize_dialog_asks_only_for_username_and_password(
    client: httpx.AsyncClient, page: str
) -> None:
    """Swagger UI draws client id, secret and their location for the password flow whatever
    the options: the page hides those rows (Flint's token endpoint identifies no client)."""
    response = await client.get(page)
    styles = response.text.split("<style>", 1)[1].split("</style>", 1)[0]
    rule = styles.split("{", 1)[0]
    for field in ("#client_id_password", "#client_secret_password", "#password_type"):
        assert field in rule
    assert "#oauth_username" not in rule
    assert "#oauth_password" not in rule
    assert "display: none" in styles
