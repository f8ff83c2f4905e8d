"""Route state made once per test process, not once per test's app.

FastAPI (0.165) builds each included route's state again for every app, on the first request
an included router matches: its response fields (`fastapi.utils.create_model_field`: a
pydantic `TypeAdapter` over the response model), its dependency tree
(`get_dependant`, which reads the endpoint's signature and makes a field per parameter) and its
body field (a pydantic model made for the route). Production serves one app per process and
builds them once; the tests make an app per test, and rebuilt them for every test: a tenth of
the CPU of a module of ordinary API tests for the response fields, and half of what signing up
a test's first user cost for the dependency trees and body fields.

What is shared depends on nothing of the app:
- a response field on its name (the status code and the route's operation id), its type and
  its mode (fields given anything more, parameters with their `FieldInfo`, are built as
  before);
- a dependency tree on the path, the endpoint and the route's own dependencies (FastAPI only
  reads it once built; the app's dependency overrides are looked up at each request, not in
  it);
- a body field on the route's name and the body parameters of its (shared) tree.

Only the module-level callables of the routers are shared: a route an app or a test makes with
a function of its own keeps its own state, so no test's function (and what it holds) outlives
its test here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import fastapi.routing
from fastapi import params
from fastapi._compat import ModelField, Undefined
from fastapi.dependencies.models import Dependant
from fastapi.utils import create_model_field
from pydantic.fields import FieldInfo

_made: dict[tuple[str, Any, str], Any] = {}
_trees: dict[tuple[str, Any, tuple[params.Depends, ...]], tuple[Dependant, list[ModelField], bool]]
_trees = {}
_bodies: dict[tuple[str, bool, tuple[int, ...]], tuple[list[ModelField], ModelField | None]] = {}

_build_tree = fastapi.routing._build_dependant_with_parameterless_dependencies
_build_body = fastapi.routing._get_body_field


def shared_response_field(
    name: str,
    type_: Any,
    default: Any = Undefined,
    field_info: FieldInfo | None = None,
    alias: str | None = None,
    mode: Literal["validation", "serialization"] = "validation",
) -> Any:
    if default is not Undefined or field_info is not None or alias is not None:
        return create_model_field(name, type_, default, field_info, alias, mode)
    key = (name, type_, mode)
    try:
        found = _made.get(key)
    except TypeError:  # a type that cannot be a key (an annotation holding a dict)
        return create_model_field(name, type_, mode=mode)
    if found is None:
        found = _made[key] = create_model_field(name, type_, mode=mode)
    return found


def _module_level(call: Callable[..., Any] | None) -> bool:
    return call is not None and "<locals>" not in getattr(call, "__qualname__", "<locals>")


def shared_tree(
    *, path: str, call: Callable[..., Any], dependencies: Sequence[params.Depends]
) -> tuple[Dependant, list[ModelField], bool]:
    if not _module_level(call) or not all(_module_level(d.dependency) for d in dependencies):
        return _build_tree(path=path, call=call, dependencies=dependencies)
    key = (path, call, tuple(dependencies))
    found = _trees.get(key)
    if found is None:
        found = _trees[key] = _build_tree(path=path, call=call, dependencies=dependencies)
    return found


def shared_body(
    *, body_params: list[ModelField], name: str, embed_body_fields: bool
) -> ModelField | None:
    key = (name, embed_body_fields, tuple(id(param) for param in body_params))
    found = _bodies.get(key)
    if found is None:  # the parameters are kept with it: their ids name no other meanwhile
        body = _build_body(body_params=body_params, name=name, embed_body_fields=embed_body_fields)
        found = _bodies[key] = (list(body_params), body)
    return found[1]


def share_route_state() -> None:
    fastapi.routing.create_model_field = shared_response_field  # type: ignore[assignment]
    fastapi.routing._build_dependant_with_parameterless_dependencies = shared_tree
    fastapi.routing._get_body_field = shared_body
