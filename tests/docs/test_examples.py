"""Every 2xx JSON response schema shows a real example in the docs, not `null` or `"string"`.

An example counts where the schema (or the component it names) carries `examples`, or is a
`const`/`enum`, or is an object each of whose properties has one (Swagger UI composes those).
A new response schema must come with its examples. Money, prices and quantities are decimal
strings in a response (tests/docs/test_money_is_text.py), so their examples are too (`"187.25"`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.docs.openapi_walk import one_response, success_schemas

ELSEWHERE = {
    "/readyz",  # its response schema is `{}`: the probe's owner gives it one on their branch
}
"""Response schemas whose examples come from another branch; nothing else may lack one."""


def gaps(
    spec: dict[str, Any], schema: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[str]:
    """The names of the schemas under `schema` with a value that has no example."""
    if {"examples", "example", "const", "enum"} & set(schema):
        return
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        if name not in seen:
            yield from gaps(spec, spec["components"]["schemas"][name], name, seen | {name})
        return
    if "anyOf" in schema:
        for alternative in schema["anyOf"]:
            if alternative.get("type") != "null":
                yield from gaps(spec, alternative, where, seen)
        return
    if schema.get("type") == "array":
        yield from gaps(spec, schema.get("items", {}), where, seen)
        return
    properties = schema.get("properties", {})
    if not properties:
        yield where
    for value in properties.values():
        yield from gaps(spec, value, where, seen)


def response_gaps(spec: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for path, schema in success_schemas(spec):
        found.update(gaps(spec, schema, path, frozenset()))
    return found


def test_the_walk_finds_a_response_schema_without_examples() -> None:
    spec = one_response(
        {
            "Out": {
                "properties": {
                    "a": {"type": "string", "examples": ["A"]},
                    "b": {"$ref": "#/components/schemas/In"},
                }
            },
            "In": {"properties": {"c": {"type": "string"}}},
        }
    )
    assert response_gaps(spec) == {"In"}
    spec["components"]["schemas"]["In"]["examples"] = [{"c": "C"}]
    assert response_gaps(spec) == set()


def test_every_response_schema_has_an_example(spec: dict[str, Any]) -> None:
    assert response_gaps(spec) - ELSEWHERE == set()


def test_the_documented_response_examples_are_valid_against_their_own_schema(
    spec: dict[str, Any],
) -> None:
    """Model-level examples must at least name only the schema's own properties."""
    for name, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples", []):
            if isinstance(example, dict) and "properties" in schema:
                assert set(example) <= set(schema["properties"]), name
                assert set(schema.get("required", [])) <= set(example), name
