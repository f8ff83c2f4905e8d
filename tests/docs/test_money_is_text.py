"""Money, prices and quantities in every response are decimal strings (ARCHITECTURE: "money in
JSON is a decimal string"): a client reading JSON numbers as doubles rounds them. Only ratios,
returns and percents are JSON numbers. The walk reads the served document's 2xx response
schemas, so a new response field of type number fails here unless it is one of `RATIOS`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.docs.openapi_walk import one_response, success_schemas

RATIOS = {
    # returns and their rates a year
    "twr",
    "mwr",
    "irr",
    "annualizedTwr",
    "annualizedMwr",
    "annualizedReturn",
    "totalReturn",
    "benchmarkReturn",
    "dailyReturn",
    "cumulativeReturn",
    "alpha",
    # risk
    "beta",
    "volatility",
    "sharpe",
    "sortino",
    "maxDrawdown",
    "DrawdownOut.max",  # named with their schema: an account's balance is `current` too
    "DrawdownOut.current",
    # shares and percents
    "weight",
    "pnlPercent",
    "changePercent",
    "lastChangePercent",
    "netPerformancePercentage",
    "grossPerformancePercentage",
    "progress",
}
"""The response fields that are JSON numbers: each a ratio, a return or a percent (by name,
or as ``Schema.name`` where the name alone is also money's)."""

OTHER_FORMATS = {
    # Ghostfolio's export file (`?format=ghostfolio`): its numbers are JSON numbers, as
    # Ghostfolio writes and reads them
    "/api/v1/portfolio/{portfolioId}/export",
}


def numbers(
    spec: dict[str, Any], schema: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[str]:
    """``Schema.field`` for each property of type number under ``schema``."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        if name not in seen:
            yield from numbers(spec, spec["components"]["schemas"][name], name, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for alternative in schema.get(key, []):
            yield from numbers(spec, alternative, where, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from numbers(spec, schema[key], where, seen)
    for name, prop in schema.get("properties", {}).items():
        kinds = prop.get("type")
        if kinds == "number" or (isinstance(kinds, list) and "number" in kinds):
            yield f"{where}.{name}"
        yield from numbers(spec, prop, where, seen)
        for alternative in prop.get("anyOf", []):
            if alternative.get("type") == "number":
                yield f"{where}.{name}"


def response_numbers(spec: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for path, schema in success_schemas(spec):
        if path not in OTHER_FORMATS:
            found.update(numbers(spec, schema, path, frozenset()))
    return found


def not_ratios(found: set[str]) -> set[str]:
    """Those of ``found`` (``Schema.field``) that `RATIOS` does not name."""
    return {f for f in found if f not in RATIOS and f.rpartition(".")[2] not in RATIOS}


def test_a_name_allowed_with_its_schema_is_money_elsewhere() -> None:
    found = {"DrawdownOut.current", "Balances.current", "Performance.twr"}
    assert not_ratios(found) == {"Balances.current"}


def test_the_walk_finds_a_number_under_a_reference_an_array_and_a_nullable() -> None:
    spec = one_response(
        {
            "Out": {
                "properties": {
                    "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                    "total": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                }
            },
            "Row": {"properties": {"price": {"type": "number"}, "name": {"type": "string"}}},
        }
    )
    assert response_numbers(spec) == {"Out.total", "Row.price"}


def test_no_response_sends_money_a_price_or_a_quantity_as_a_json_number(
    spec: dict[str, Any],
) -> None:
    found = response_numbers(spec)
    assert found  # the ratios are there: the walk reads this document
    assert not_ratios(found) == set()
