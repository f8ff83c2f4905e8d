"""Response fields made once per test process, not once per test's app.

FastAPI (0.165) builds each route's response fields (`fastapi.utils.create_model_field`: a
pydantic `TypeAdapter` over the response model) again for every app, on the first request an
included router matches. Production serves one app per process and builds them once; the
tests make an app per test, and rebuilt them for every test: a tenth of the CPU of a module of
ordinary API tests (watchlist and alerts). A response field depends only on its name (the
status code and the route's operation id), its type and its mode, so apps can share it; fields
given anything more (parameters, with their `FieldInfo`) are built as before."""

from __future__ import annotations

from typing import Any, Literal

import fastapi.routing
from fastapi._compat import Undefined
from fastapi.utils import create_model_field
from pydantic.fields import FieldInfo

_made: dict[tuple[str, Any, str], Any] = {}


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


def share_response_fields() -> None:
    fastapi.routing.create_model_field = shared_response_field  # type: ignore[assignment]
