"""The model schemas of an OpenAPI document made once per test process for the same fields.

FastAPI (0.165) makes an app's document from its routes: it collects the fields of every route
(parameters, bodies, responses), finds every model they reach (`get_flat_models_from_fields`,
which makes a `ModelField`, a pydantic `TypeAdapter`, for each attribute of each model, every
time) and writes a JSON schema for each (`get_definitions`). For Flint's 90 operations that was
0.6 of the 0.8 s of CPU a document costs. Production makes its documents once per process; the
tests make an app per test, and 75 documents a run (36 s of CPU): the documentation, contract,
rate-limit and header tests fetch them from fresh apps.

The schemas depend on nothing but the fields: the same field objects (the routers' fields are
made once per process, tests/shared_fields.py) give the same models, names and schemas. So both
steps are kept per tuple of field objects (held with the result: their ids name no other
meanwhile) and each caller gets its own copy of what it may change. Everything else of a
document (its paths, operations, security, and what Flint adds to it) is still made for each
app: an app of other routes, or a route with a field of its own, gets schemas of its own
(tested in tests/test_suite_openapi.py)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import fastapi.openapi.utils as openapi_utils
from fastapi._compat import ModelField

_flat_models = openapi_utils.get_flat_models_from_fields
_definitions = openapi_utils.get_definitions

_models: dict[tuple[int, ...], tuple[list[ModelField], set[Any]]] = {}
_schemas: dict[tuple[tuple[int, ...], bool], tuple[list[ModelField], Any, dict[str, Any]]] = {}
made = {"models": 0, "schemas": 0}
"""How many times each step ran (the cache missed), for tests/test_suite_openapi.py."""


def shared_flat_models(fields: Sequence[ModelField], known_models: set[Any]) -> set[Any]:
    if known_models:  # the recursive calls, and any caller that knows models already
        return _flat_models(fields, known_models=known_models)
    key = tuple(map(id, fields))
    found = _models.get(key)
    if found is None:
        made["models"] += 1
        found = _models[key] = (list(fields), _flat_models(fields, known_models=set()))
    return set(found[1])


def shared_definitions(
    *,
    fields: Sequence[ModelField],
    model_name_map: dict[Any, str],
    separate_input_output_schemas: bool = True,
) -> tuple[dict[Any, dict[str, Any]], dict[str, dict[str, Any]]]:
    key = (tuple(map(id, fields)), separate_input_output_schemas)
    found = _schemas.get(key)
    if found is None:  # the names are made from the models the fields reach: the key has them
        made["schemas"] += 1
        mapping, definitions = _definitions(
            fields=fields,
            model_name_map=model_name_map,
            separate_input_output_schemas=separate_input_output_schemas,
        )
        found = _schemas[key] = (list(fields), mapping, definitions)
    _, mapping, definitions = found
    # The keys are the fields themselves (not copied); the schemas go into the caller's document.
    return {key: copy.deepcopy(schema) for key, schema in mapping.items()}, copy.deepcopy(
        definitions
    )


def share_openapi_schemas() -> None:
    openapi_utils.get_flat_models_from_fields = shared_flat_models  # type: ignore[assignment]
    openapi_utils.get_definitions = shared_definitions  # type: ignore[assignment]
