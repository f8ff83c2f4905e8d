"""Domain errors, each carrying its HTTP meaning, and the RFC 9457 problem document they become
(the handlers that turn them into responses are the app's: `flint.app.problems`).

No web framework here: services, tasks and migrations raise and import these without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, Field

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
        self.extensions: dict[str, Any] = {}
        """RFC 9457 extension members a subclass adds to its problem document."""
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


class PlanLimitReached(FlintError):
    """One more would exceed what the caller's plan allows. The problem names the limit, what
    the plan allows, what the caller holds now and the plan that lifts it, so a client can
    offer the upgrade without parsing the detail."""

    status, title, slug = 403, "Plan limit reached", "plan-limit"

    def __init__(
        self,
        detail: str,
        *,
        limit: str,
        allowed: int,
        usage: int,
        plan: str,
        upgrade_to: str | None,
    ) -> None:
        super().__init__(detail)
        self.extensions = {
            "limit": limit,
            "allowed": allowed,
            "usage": usage,
            "plan": plan,
            "upgradeTo": upgrade_to,
        }


class NotFound(FlintError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(FlintError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(FlintError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(FlintError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


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


def problem_of(exc: FlintError, *, instance: str | None = None) -> Problem:
    """The problem document ``exc`` stands for, for work that answers later (an import job
    keeps the 422 its file would have had)."""
    return Problem(
        type=f"/problems/{exc.slug}",
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance=instance,
        errors=exc.errors,
    )


def field_error(field: str, message: str, type_: str = "value_error") -> FieldError:
    return FieldError(field=field, message=message, type=type_)


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic error's location as Flint names fields: ``body.assets[2].quantity`` (list
    items in brackets, as Flint's own checks write them; FastAPI's ``body.assets.2.quantity``
    named the same field another way). A map's key that is refused is named as the field it
    makes, ``body.channels.newsletter`` (pydantic adds a ``[key]`` part, which named
    ``body.channels.newsletter.[key]``, a field no request has)."""
    out = ""
    for part in loc:
        if part == _KEY:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_KEY = "[key]"
"""The part pydantic's location of a refused dictionary key ends with."""


_RAISED = ("Value error, ", "Assertion failed, ")


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message as a person reads it: pydantic writes a validator's own
    ``ValueError`` as ``Value error, <its text>``, which answers showed as it was."""
    message = str(error["msg"])
    for prefix in _RAISED:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries describing the problem documents an operation may return."""
    descriptions = {
        400: "Malformed request body",
        401: "Missing, expired or invalid credentials",
        403: "Forbidden",
        404: "Not found (also for another user's resources)",
        409: "Conflict with the current state",
        413: "Request body too large",
        415: "The body's media type cannot carry this request (the problem says which can)",
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
