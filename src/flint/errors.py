"""Domain errors and their one mapping to RFC 9457 problem+json responses."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. `body.email` or `query.limit`.")
    message: str
    type: str = Field(description="A stable machine-readable code, e.g. `missing`.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No watchlist item AAPL for this user."])
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, alias="requestId")
    errors: list[FieldError] | None = None


class FlintError(Exception):
    """Base of every error a service may raise; each subclass carries its HTTP meaning."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal server error"
    slug: ClassVar[str] = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        commit: bool = False,
    ) -> None:
        self.detail = detail or self.title
        self.commit = commit
        """True when the transaction must still commit (e.g. a revocation behind a 401)."""
        self.errors = errors
        self.headers = headers or {}
        super().__init__(self.detail)


class BadRequest(FlintError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(FlintError):
    status, title, slug = 401, "Not authenticated", "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(FlintError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(FlintError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(FlintError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(FlintError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class ValidationFailed(FlintError):
    status, title, slug = 422, "Validation failed", "validation-error"

    @classmethod
    def at(cls, field: str, detail: str, message: str | None = None) -> ValidationFailed:
        """One bad input: ``detail`` for the problem, ``message`` (the detail when omitted)
        for its entry under ``field`` in ``errors``."""
        return cls(detail, errors=[field_error(field, message or detail)])


class TooManyRequests(FlintError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(FlintError):
    status, title, slug = 503, "Service unavailable", "unavailable"


def field_error(field: str, message: str, type_: str = "value_error") -> FieldError:
    return FieldError(field=field, message=message, type=type_)


def problem_response(
    request: Request | None,
    *,
    status: int,
    title: str,
    slug: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
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
    return JSONResponse(
        body.model_dump(by_alias=True, exclude_none=True),
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


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(field=_location(err.get("loc", ())), message=err["msg"], type=err["type"])
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


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, method=request.method)
    # Starlette runs this handler in ServerErrorMiddleware, outside CorrelationIdMiddleware, so
    # that middleware never sees this response: the request id header is added here.
    request_id = correlation_id.get()
    return problem_response(
        request,
        status=500,
        title="Internal server error",
        slug="internal",
        detail="Something went wrong on our side; quote the request id when reporting it.",
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FlintError, _on_flint_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


def document_problems(app: FastAPI) -> None:
    """Finish the OpenAPI document's error responses in one pass.

    Error responses are `application/problem+json` only (FastAPI also files a response `model`
    under `application/json`, which Flint's errors never are); every operation may answer 500,
    and every operation with a body 413.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        common = problem_responses(500)
        too_large = problem_responses(413)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                extra = {**common, **(too_large if "requestBody" in operation else {})}
                for status, entry in extra.items():
                    responses.setdefault(
                        str(status), {k: v for k, v in entry.items() if k != "model"}
                    )
                for response in responses.values():
                    content = response.get("content", {})
                    if PROBLEM_JSON in content:
                        content.pop("application/json", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries describing the problem documents an operation may return."""
    descriptions = {
        400: "Malformed request body",
        401: "Missing, expired or invalid credentials",
        403: "Forbidden",
        404: "Not found (also for another user's resources)",
        409: "Conflict with the current state",
        413: "Request body too large",
        422: "Validation failed; `errors` names each bad field",
        429: "Too many requests; see `Retry-After`",
        500: "Unexpected error; the problem carries the request id to report",
        502: "An upstream provider sent an invalid answer",
        503: "A dependency is unavailable",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
