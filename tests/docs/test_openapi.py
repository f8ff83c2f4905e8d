"""The OpenAPI document describes every /api/v1 operation fully and truthfully."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute

from flint.app.main import API_ROUTERS, create_app
from flint.config import Settings
from flint.errors import PROBLEM_JSON

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PUBLIC_OPERATIONS = {
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/reset-password"),
    ("post", "/api/v1/auth/reset-password/confirm"),
    ("post", "/api/v1/auth/2fa/verify"),
    ("post", "/api/v1/billing/webhook"),  # Stripe calls it, signing its body instead
    ("post", "/api/v1/webhooks/snaptrade"),  # SnapTrade calls it, signing its body instead
}
PROBES = {"/healthz", "/readyz"}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation under /api/v1."""
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` to the component it names."""
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def request_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["requestBody"]["content"]
    return resolve(spec, content["application/json"]["schema"])


def response_schema(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["responses"][status]["content"]
    return resolve(spec, content["application/json"]["schema"])


def example(schema: dict[str, Any], field: str) -> Any:
    examples = schema["properties"][field].get("examples")
    assert examples, f"{schema.get('title')}.{field} has no examples"
    return examples[0]


async def test_an_apps_settings_do_not_enter_its_documents(settings: Settings) -> None:
    """What lets the tests fetch each document once per process (`served_document`): an app
    configured otherwise in every way a document could follow serves the same two documents."""
    other = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **settings.model_dump(),
            "auth0_domain": "tenant.example.com",
            "auth0_audience": "https://flint.example.com",
            "auth0_only": True,
            "rate_limits_enabled": False,
            "cors_origins": ["https://app.example.com"],
            "metrics_token": "m" * 32,
            "public_url": "https://flint.example.com",
            "demo": True,
            "stripe_secret_key": "sk_test_x",
            "stripe_webhook_secret": "whsec_x",
            "stripe_premium_price_id": "price_x",
        },
    )
    documents = []
    for configured in (settings, other):
        app = create_app(configured)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answers = [await http.get(path) for path in ("/openapi.json", "/api/openapi.json")]
        await app.state.runtime.aclose()
        assert [answer.status_code for answer in answers] == [200, 200]
        documents.append([answer.json() for answer in answers])
    assert documents[0] == documents[1]


def test_the_document_lists_the_versioned_api_operations(spec: dict[str, Any]) -> None:
    found = {(method, path) for method, path, _ in operations(spec)}
    assert found >= PUBLIC_OPERATIONS
    assert found >= {
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/auth/me"),
        ("get", "/api/v1/users/me"),
        ("patch", "/api/v1/users/me"),
        ("get", "/api/v1/users/{userId}"),
        ("post", "/api/v1/watchlist/add"),
        ("get", "/api/v1/watchlist/{userId}"),
        ("delete", "/api/v1/watchlist/{userId}/{asset}"),
    }


def test_unversioned_api_aliases_are_not_in_the_document(spec: dict[str, Any]) -> None:
    stray = [
        path for path in spec["paths"] if not path.startswith("/api/v1/") and path not in PROBES
    ]
    assert stray == []


async def test_unversioned_api_aliases_are_still_served(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={})
    assert response.status_code == 422


def test_every_operation_has_a_summary_and_a_tag(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        assert operation.get("summary", "").strip(), f"{method} {path} has no summary"
        tags = operation.get("tags", [])
        assert tags, f"{method} {path} has no tag"
        assert tags[0] == path.split("/")[3], f"{method} {path} is filed under {tags}"


def test_operation_ids_are_unique_and_kebab_case(spec: dict[str, Any]) -> None:
    ids = [
        operation.get("operationId")
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids)), sorted(ids)
    for operation_id in ids:
        assert isinstance(operation_id, str)
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", operation_id), operation_id


def test_operations_that_take_a_body_document_its_schema(spec: dict[str, Any]) -> None:
    routes = [route for router in API_ROUTERS for route in router.routes]
    api_routes = [route for route in routes if isinstance(route, APIRoute)]
    assert api_routes
    assert api_routes == routes
    for route in api_routes:
        for method in sorted(route.methods or ()):
            path = f"/api/v1{route.path}"
            operation = spec["paths"][path][method.lower()]
            where = f"{method} {path}"
            if route.body_field is None:
                # A file the route reads itself: CSV, OFX (text), or a JSON file it reads exactly
                # (Ghostfolio's export), whose properties the document names; or either as a
                # multipart upload's part `file` (`flint.web.sent_file`).
                raw = operation.get("requestBody")
                if raw is not None:
                    assert raw.get("required") is True, where
                    for media, content in raw["content"].items():
                        if media == "application/json":
                            assert content["schema"].get("properties"), where
                        elif media == "multipart/form-data":
                            assert content["schema"]["required"] == ["file"], where
                            part = content["schema"]["properties"]["file"]
                            assert part["type"] == "string", where
                            assert part["format"] == "binary", where
                        else:
                            assert content["schema"] == {"type": "string"}, where
                continue
            body = operation.get("requestBody")
            assert body, f"{where} takes a body the document does not describe"
            assert body.get("required") is True, where
            for media in body["content"].values():
                schema = resolve(spec, media["schema"])
                if schema.get("type") == "array":  # a list of objects, e.g. prices
                    schema = resolve(spec, schema["items"])
                # one of several bodies (an order, or a preview's id): each is documented
                for choice in schema.get("oneOf") or [schema]:
                    assert resolve(spec, choice).get("properties"), where


FILE_TYPES = {"image/png", "image/svg+xml", "application/pdf", "text/html", "text/csv"}


def test_every_operation_documents_its_success_response(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        successes = {
            status: response
            for status, response in operation["responses"].items()
            if status.startswith("2")
        }
        assert successes, f"{method} {path} documents no 2xx response"
        for status, response in successes.items():
            where = f"{method} {path} {status}"
            if status == "204":
                assert not response.get("content"), where
                continue
            if "application/json" not in response["content"]:  # images, files: named types
                assert set(response["content"]) <= FILE_TYPES, where
                assert response["content"], where
                continue
            schema = resolve(spec, response["content"]["application/json"]["schema"])
            # One object, or one of several (sign-in: tokens, or a second factor to send).
            for alternative in schema.get("anyOf", [schema]):
                assert resolve(spec, alternative).get("properties"), where


def test_sign_in_documents_both_answers_tokens_or_a_second_factor_to_send(
    spec: dict[str, Any],
) -> None:
    for path, tokens in [
        ("/api/v1/auth/login", "TokenPair"),
        ("/api/v1/auth/token", "OAuth2TokenResponse"),
    ]:
        operation = spec["paths"][path]["post"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["anyOf"] == [
            {"$ref": f"#/components/schemas/{tokens}"},
            {"$ref": "#/components/schemas/MfaRequired"},
        ]
        assert "/auth/2fa/verify" in operation["description"]
    challenge = spec["components"]["schemas"]["MfaRequired"]
    assert set(challenge["required"]) == {"mfaRequired", "mfaToken", "expiresIn"}
    assert challenge["properties"]["mfaRequired"]["const"] is True
    verify = spec["paths"]["/api/v1/auth/2fa/verify"]["post"]["responses"]["200"]
    assert verify["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenPair"
    }


def test_error_responses_are_problem_documents_only(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            where = f"{method} {path} {status}"
            assert response.get("description"), where
            assert response.get("content") == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, where


def test_the_problem_schema_has_the_rfc_9457_members(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert {"instance", "requestId", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_operations_document_the_errors_their_input_and_auth_can_cause(
    spec: dict[str, Any],
) -> None:
    for method, path, operation in operations(spec):
        statuses = set(operation["responses"])
        where = f"{method} {path}"
        if operation.get("requestBody") or operation.get("parameters"):
            assert "422" in statuses, f"{where} takes input but documents no 422"
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert "400" in statuses, f"{where} takes JSON but documents no 400"
        if operation.get("security"):
            assert "401" in statuses, f"{where} needs a token but documents no 401"


def test_the_bearer_scheme_is_the_oauth2_password_flow_at_the_token_endpoint(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert list(schemes) == ["bearer", "apiKey"]
    assert schemes["apiKey"] | {"description": ""} == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "",
    }
    bearer = schemes["bearer"]
    assert bearer["type"] == "oauth2"
    assert bearer["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    token = spec["paths"]["/api/v1/auth/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert {"username", "password"} <= set(resolve(spec, form["schema"])["required"])


def test_signed_in_operations_declare_bearer_security_and_auth_endpoints_do_not(
    spec: dict[str, Any],
) -> None:
    for method, path, operation in operations(spec):
        security = operation.get("security")
        if (method, path) in PUBLIC_OPERATIONS:
            assert not security, f"{method} {path} should be public"
        else:
            assert security == [{"bearer": []}, {"apiKey": []}], f"{method} {path}: {security}"


def _concrete(path: str) -> str:
    values = {"userId": str(uuid.uuid4()), "asset": "AAPL"}
    return re.sub(r"\{(\w+)\}", lambda match: values.get(match[1], "x"), path)


async def test_declared_security_matches_what_the_api_enforces(
    spec: dict[str, Any], client: httpx.AsyncClient
) -> None:
    for method, path, operation in operations(spec):
        content = operation.get("requestBody", {}).get("content", {})
        kwargs: dict[str, Any] = {}
        if "application/json" in content:
            kwargs["json"] = {}
        elif content:
            kwargs["data"] = {}
        response = await client.request(method.upper(), _concrete(path), **kwargs)
        where = f"{method} {path} answered {response.status_code} without a token"
        if operation.get("security"):
            assert response.status_code == 401, where
        else:
            assert response.status_code != 401, where


def test_register_and_watchlist_add_schemas_carry_examples(spec: dict[str, Any]) -> None:
    register = request_schema(spec, "post", "/api/v1/auth/register")
    assert "@" in example(register, "email")
    assert example(register, "password")
    add = request_schema(spec, "post", "/api/v1/watchlist/add")
    assert example(add, "asset") == "AAPL"
    for status in ("200", "201"):
        entry = response_schema(spec, "post", "/api/v1/watchlist/add", status)
        assert example(entry, "asset") == "AAPL"
    login = request_schema(spec, "post", "/api/v1/auth/login")
    assert example(login, "email") == example(register, "email")


async def test_the_documented_examples_work_when_sent_as_they_are(
    spec: dict[str, Any], client: httpx.AsyncClient
) -> None:
    register = request_schema(spec, "post", "/api/v1/auth/register")
    email, password = example(register, "email"), example(register, "password")
    created = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == set(
        response_schema(spec, "post", "/api/v1/auth/register", "201")["properties"]
    )

    token_url = spec["components"]["securitySchemes"]["bearer"]["flows"]["password"]["tokenUrl"]
    signed_in = await client.post(token_url, data={"username": email, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    add = request_schema(spec, "post", "/api/v1/watchlist/add")
    body = {"userId": created.json()["userId"], "asset": example(add, "asset")}
    added = await client.post("/api/v1/watchlist/add", json=body, headers=headers)
    assert added.status_code == 201, added.text
    entry = response_schema(spec, "post", "/api/v1/watchlist/add", "201")
    assert set(added.json()) == set(entry["properties"])
