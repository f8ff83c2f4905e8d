"""The one mapping of errors to RFC 9457 problem+json responses, and the OpenAPI document's
error responses finished in one pass."""

from __future__ import annotations

import json
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from flint.errors import (
    PROBLEM_JSON,
    Conflict,
    FieldError,
    FlintError,
    Problem,
    ValidationFailed,
    error_message,
    field_path,
    problem_responses,
)
from flint.kit.db_errors import database_unavailable, referent_gone

log = structlog.get_logger(__name__)


def problem_response(
    request: Request | None,
    *,
    status: int,
    title: str,
    slug: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"/problems/{slug}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        requestId=correlation_id.get(),
        errors=errors,
    )
    document = body.model_dump(by_alias=True, exclude_none=True)
    for name, value in (extensions or {}).items():
        document.setdefault(name, value)  # the standard members cannot be overridden
    return JSONResponse(
        document,
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


_HTTP_TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "bad-request"),
    401: ("Not authenticated", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
    413: ("Payload too large", "payload-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
}


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            field=field_path(err.get("loc", ())), message=error_message(err), type=err["type"]
        )
        for err in exc.errors()
    ]


async def _on_flint_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlintError)
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        slug=exc.slug,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(err.type == "json_invalid" for err in errors):
        return problem_response(
            request,
            status=400,
            title="Malformed request body",
            slug="malformed-body",
            detail="The request body is not valid JSON.",
            errors=errors,
        )
    names = ", ".join(sorted({err.field for err in errors}))
    return problem_response(
        request,
        status=422,
        title=ValidationFailed.title,
        slug=ValidationFailed.slug,
        detail=f"Invalid or missing values: {names}.",
        errors=errors,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title, slug = _HTTP_TITLES.get(exc.status_code, ("Error", "http-error"))
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route {request.method} {request.url.path}."
    return problem_response(
        request,
        status=exc.status_code,
        title=title,
        slug=slug,
        detail=detail,
        headers=dict(exc.headers or {}),
    )


DATABASE_RETRY_SECONDS = 5
"""The ``Retry-After`` of an answer given while the database cannot be reached."""


CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a client that hung up before its request had arrived: no client reads
it, the access log and the metrics do."""


def unexpected_problem(request: Request, error: BaseException | None = None) -> JSONResponse:
    """The 500 for an exception nothing else handled: logged with its traceback, answered with
    only the request id. One that says the database cannot be reached just now (down,
    restarting, out of connections) is a 503 with ``Retry-After``, as `/readyz` says. A client
    that hung up before its body arrived (`ClientDisconnect`, from a route reading the raw
    body) is no failure of Flint's: 499, logged at info. A foreign key refusing a row whose
    referent another request deleted meanwhile is a 409 (`referent_gone`)."""
    if isinstance(error, ClientDisconnect):
        log.info("client_disconnected", path=request.url.path, method=request.method)
        return problem_response(
            request,
            status=CLIENT_CLOSED_REQUEST,
            title="Client closed request",
            slug="client-closed-request",
            detail="The connection closed before the request had arrived whole.",
        )
    if error is not None and database_unavailable(error):
        log.warning(
            "database_unavailable",
            path=request.url.path,
            method=request.method,
            error=f"{type(error).__name__}: {error}",
        )
        return problem_response(
            request,
            status=503,
            title="Database unavailable",
            slug="database-unavailable",
            detail="The database cannot be reached just now; try again shortly.",
            headers={"Retry-After": str(DATABASE_RETRY_SECONDS)},
        )
    if error is not None and referent_gone(error):
        log.warning(
            "referent_deleted_meanwhile",
            path=request.url.path,
            method=request.method,
            error=str(getattr(error, "orig", error)),  # the driver's words, without the SQL
        )
        return problem_response(
            request,
            status=Conflict.status,
            title=Conflict.title,
            slug=Conflict.slug,
            detail="Something this request refers to was deleted while it was on its way "
            "(by another request); ask again.",
        )
    log.exception("unhandled_error", path=request.url.path, method=request.method)
    return problem_response(
        request,
        status=500,
        title="Internal server error",
        slug="internal",
        detail="Something went wrong on our side; quote the request id when reporting it.",
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The last resort, for a failure in a middleware outside `Answers`.

    Starlette runs it in ServerErrorMiddleware, outside CorrelationIdMiddleware, so that
    middleware never sees this response: the request id header is added here.
    """
    response = unexpected_problem(request, exc)
    request_id = correlation_id.get()
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FlintError, _on_flint_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


def finish_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Finish an OpenAPI document's error responses in one pass.

    Error responses are `application/problem+json` only (FastAPI also files a response `model`
    under `application/json`, which Flint's errors never are); every operation may answer 500,
    and every operation with a body 413.
    """
    common = problem_responses(500)
    too_large = problem_responses(413)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            extra = {**common, **(too_large if "requestBody" in operation else {})}
            for status, entry in extra.items():
                responses.setdefault(str(status), {k: v for k, v in entry.items() if k != "model"})
            for response in responses.values():
                content = response.get("content", {})
                if PROBLEM_JSON in content:
                    content.pop("application/json", None)
    return schema


def document_problems(app: FastAPI) -> None:
    """The app's document, finished by :func:`finish_problems` once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        return finish_problems(generate())

    app.openapi = openapi  # type: ignore[method-assign]
