"""FastAPI's request handler without its general dependency solver, for the routes whose
dependencies are plain: functions of the request, the background tasks, the response, path and
query parameters and one another (coroutines, functions run in a thread, or generators whose
``yield`` FastAPI's exit stacks close).

FastAPI solves a route's dependencies afresh on every request (`solve_dependencies`): for each
dependency it looks up overrides, classifies the callable (generator? coroutine? a thread?),
builds its cache key, and runs the parameter validation of every kind (path, query, header,
cookie) whether the dependency has such parameters or not; a signed-in read with two
dependencies solves three times and validates twelve empty parameter lists. That was a third
of the CPU of a cached quote and a quarter of a watchlist read. `LeanRoute` works this out once
per route, when FastAPI builds the route's handler, as a tree of steps, and a request only runs
them: the same calls, in the same order, with the same values, errors and answer (parameters
are validated by FastAPI's own `request_params_to_args`, generators entered by its own
`_solve_generator`, the answer serialised by its own `serialize_response`).

A route with anything else (a body, headers or cookies as parameters, security scopes, a
dependency with a concurrency limit, a synchronous or streamed endpoint) keeps FastAPI's
handler, and so does every request made while dependency overrides are set or OpenTelemetry
traces FastAPI. `tests/app/test_lean.py` asks every GET route of the app both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import BackgroundTasks, Response, params
from fastapi._compat import ModelField, Undefined, field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _get_param_model,
    _is_json_field,
    _solve_generator,
    _validate_value_with_model_field,
    request_params_to_args,
)
from fastapi.exceptions import RequestValidationError
from fastapi.routing import (
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    serialize_response,
)
from fastapi.telemetry import get_telemetry_data
from fastapi.utils import is_body_allowed_for_status_code
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.requests import Request

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class _Param:
    """One path or query parameter as `request_params_to_args` reads it, its questions about
    the field (which key, a list or one value) answered once."""

    field: ModelField
    aliases: tuple[str, ...]
    """The request keys it may come under, in FastAPI's order of preference."""
    listed: bool
    """Read as every value of its key (a sequence, not a JSON field, from a multi-dict)."""
    sequence: bool
    loc: str
    absent: Any = Undefined
    """Its value when the request does not send it, where that needs no work: the default
    itself when it is one FastAPI would copy (`copy.deepcopy`) into the same value and not
    validate (None, a bool, a number, a text: immutable); else `Undefined` (FastAPI's own
    path)."""


_ATOMS = (type(None), bool, int, float, str, bytes)
_NO_QUERY = ImmutableMultiDict[str, str]()
"""The query parameters of a request without a query string."""


def _absent(field: ModelField) -> Any:
    info = field.field_info
    if info.is_required() or info.validate_default or info.default_factory is not None:
        return Undefined  # (a factory's value is made afresh for each request)
    return field.default if type(field.default) in _ATOMS else Undefined


def _params(fields: list[ModelField]) -> tuple[_Param, ...] | list[ModelField]:
    """``fields`` made `_Param`s; as they are when one is a model of parameters (left to
    `request_params_to_args` whole)."""
    made = []
    for field in fields:
        info = field.field_info
        if _get_param_model(field) is not None or not isinstance(info, params.Param):
            return fields
        sequence = field_annotation_is_sequence(info.annotation)
        made.append(
            _Param(
                field=field,
                aliases=tuple(key for _, key in _get_param_aliases(field)),
                listed=sequence and not _is_json_field(field),
                sequence=sequence,
                loc=info.in_.value,
                absent=_absent(field),
            )
        )
    return tuple(made)


def _validated(
    fields: tuple[_Param, ...] | list[ModelField], received: Any
) -> tuple[dict[str, Any], list[Any]]:
    """`request_params_to_args(fields, received)`, the same values and errors."""
    if isinstance(fields, list):
        return request_params_to_args(fields, received)
    values: dict[str, Any] = {}
    errors: list[Any] = []
    multi = isinstance(received, ImmutableMultiDict | Headers)
    for param in fields:
        alias = param.aliases[0]
        if len(param.aliases) > 1:
            alias = next((key for key in param.aliases if key in received), alias)
        value = received.getlist(alias) if param.listed and multi else received.get(alias)
        if value is None or (param.sequence and len(value) == 0):
            if param.absent is not Undefined:
                values[param.field.name] = param.absent
                continue
            value = Undefined
        found, wrong = _validate_value_with_model_field(
            field=param.field, value=value, values=values, loc=(param.loc, alias)
        )
        if wrong:
            errors.extend(wrong)
        else:
            values[param.field.name] = found
    return values, errors


@dataclass(frozen=True)
class _Needs:
    """What one call takes: the steps of its dependencies (run first), then its parameters."""

    dependencies: tuple[_Step, ...]
    path: tuple[_Param, ...] | list[ModelField]
    query: tuple[_Param, ...] | list[ModelField]
    request: str | None
    background: str | None
    response: str | None


@dataclass(frozen=True)
class _Step:
    """One dependency: called with the values its own steps (run before it) produced."""

    dependant: Dependant
    call: Callable[..., Any]
    kind: str
    """``coroutine``, ``generator`` (with ``yield``, either kind) or ``function`` (in a thread)."""
    name: str | None
    key: int
    """Where its value is kept for the request (one call per dependency, as FastAPI's cache)."""
    needs: _Needs
    """Its own dependencies and parameters."""
    cached: bool


def plain(dependant: Dependant) -> bool:
    """Whether ``dependant`` (with every dependency under it) is one `LeanRoute` can run."""
    if (
        dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.parent_oauth_scopes
        or dependant.concurrency is not None
    ):
        return False
    return dependant.call is not None and all(plain(sub) for sub in dependant.dependencies)


class _Plan:
    def __init__(self, dependant: Dependant) -> None:
        self._keys: dict[Any, int] = {}
        self.uses_response = False
        self.uses_background = False
        self.root = self._needs(dependant)

    def _needs(self, dependant: Dependant) -> _Needs:
        self.uses_response |= dependant.response_param_name is not None
        self.uses_background |= dependant.background_tasks_param_name is not None
        steps = tuple(self._step(sub) for sub in dependant.dependencies)
        return _Needs(
            dependencies=steps,
            path=_params(dependant.path_params),
            query=_params(dependant.query_params),
            request=dependant.request_param_name or dependant.http_connection_param_name,
            background=dependant.background_tasks_param_name,
            response=dependant.response_param_name,
        )

    def _step(self, dependant: Dependant) -> _Step:
        assert dependant.call is not None
        call = dependant.call
        key = self._keys.setdefault(call, len(self._keys))
        if _is_gen_callable(call) or _is_async_gen_callable(call):
            kind = "generator"
        elif _is_coroutine_callable(call):
            kind = "coroutine"
        else:
            kind = "function"
        return _Step(
            dependant=dependant,
            call=call,
            kind=kind,
            name=dependant.name,
            key=key,
            needs=self._needs(dependant),
            cached=dependant.use_cache,
        )


class _Solving:
    """One request's dependency values, as FastAPI's solver would have found them."""

    __slots__ = ("background", "errors", "request", "response", "values")

    def __init__(self, request: Request, plan: _Plan) -> None:
        self.request = request
        self.errors: list[Any] = []
        self.values: dict[int, Any] = {}
        self.background = BackgroundTasks() if plan.uses_background else None
        self.response: Response | None = None
        if plan.uses_response:
            response = Response()
            del response.headers["content-length"]
            response.status_code = None  # type: ignore[assignment]
            self.response = response

    async def solve(self, needs: _Needs) -> tuple[dict[str, Any], bool]:
        """The arguments of one call, and whether they came without errors."""
        values: dict[str, Any] = {}
        failed = False
        for step in needs.dependencies:
            sub_values, ok = await self.solve(step.needs)
            if not ok:
                failed = True
                continue
            if step.cached and step.key in self.values:
                solved = self.values[step.key]
            elif step.kind == "coroutine":
                solved = await step.call(**sub_values)
            elif step.kind == "generator":  # closed by the request's exit stacks, as FastAPI's
                scope = self.request.scope
                stack = scope[
                    "fastapi_function_astack"
                    if step.dependant.scope == "function"
                    else "fastapi_inner_astack"
                ]
                solved = await _solve_generator(
                    request=self.request,
                    dependant=step.dependant,
                    stack=stack,
                    sub_values=sub_values,
                )
            else:
                solved = await run_in_threadpool(step.call, **sub_values)
            self.values.setdefault(step.key, solved)
            if step.name is not None:
                values[step.name] = solved
        request = self.request
        if needs.path and not self._take(values, needs.path, request.path_params):
            failed = True
        # no query string, no parameters to read from it: nothing to parse
        received = request.query_params if request.scope.get("query_string") else _NO_QUERY
        if needs.query and not self._take(values, needs.query, received):
            failed = True
        if needs.request is not None:
            values[needs.request] = request
        if needs.background is not None:
            values[needs.background] = self.background
        if needs.response is not None:
            values[needs.response] = self.response
        return values, not failed

    def _take(
        self, values: dict[str, Any], fields: tuple[_Param, ...] | list[ModelField], received: Any
    ) -> bool:
        """Validate ``fields`` into ``values``; False (the errors kept) when one is wrong."""
        found, errors = _validated(fields, received)
        values.update(found)
        self.errors += errors
        return not errors


class LeanRoute(APIRoute):
    """An `APIRoute` whose handler is `lean_handler`'s when its dependencies are `plain`."""

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        # What FastAPI built the handler from: the route as included (its effective context,
        # with the router's prefix and dependencies), else the route itself.
        context = _effective_route_context_var.get()
        route: Any = context if context is not None and context.original_route is self else self
        return lean_handler(route, fastapi_handler) or fastapi_handler


def lean_handler(route: Any, fastapi_handler: Handler) -> Handler | None:
    """The handler of ``route`` (an `APIRoute`, or FastAPI's effective context of one), or None
    when it is not one `plain` covers; ``fastapi_handler`` answers the requests it must."""
    dependant: Dependant = route.dependant
    if (
        route.body_field is not None
        or route.is_sse_stream
        or route.is_json_stream
        or route.stream_item_field is not None
        or not _is_coroutine_callable(dependant.call)  # not an async generator either
        or not plain(dependant)
    ):
        return None
    plan = _Plan(dependant)
    endpoint = dependant.call
    assert endpoint is not None
    overrides = route.dependency_overrides_provider
    status_code = route.status_code
    response_field = route.response_field
    response_class = route.response_class
    dump_json = response_field is not None and isinstance(response_class, DefaultPlaceholder)
    chosen_class = (
        response_class.value if isinstance(response_class, DefaultPlaceholder) else (response_class)
    )
    context = dict(_extract_endpoint_context(endpoint))
    if dependant.path:
        context["path"] = f"{sorted(route.methods)[0]} {dependant.path}"
    serializing = {
        "field": response_field,
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
        "is_coroutine": True,
        "dump_json": dump_json,
        "endpoint_ctx": context,
    }

    async def app(request: Request) -> Response:
        if (overrides is not None and getattr(overrides, "dependency_overrides", None)) or (
            get_telemetry_data() is not None
        ):
            return await fastapi_handler(request)
        solving = _Solving(request, plan)
        values, ok = await solving.solve(plan.root)
        if not ok:
            where = dict(context)
            if dependant.path:  # as FastAPI says it: with the mount's path
                mount = request.scope.get("root_path", "").rstrip("/")
                where["path"] = f"{request.method} {mount}{dependant.path}"
            raise RequestValidationError(solving.errors, body=None, endpoint_ctx=where)  # type: ignore[arg-type]
        raw = await endpoint(**values)
        if isinstance(raw, Response):
            if raw.background is None:
                raw.background = solving.background
            return raw
        sub = solving.response
        status = status_code
        if sub is not None and sub.status_code:
            status = sub.status_code
        arguments: dict[str, Any] = {"background": solving.background}
        if status is not None:
            arguments["status_code"] = status
        content = await serialize_response(response_content=raw, **serializing)
        if dump_json:
            response = Response(content=content, media_type="application/json", **arguments)
        else:
            response = chosen_class(content, **arguments)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        if sub is not None:
            response.headers.raw.extend(sub.headers.raw)
        return response

    return app
