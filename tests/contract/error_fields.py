"""A schemathesis check of Flint's own: every field a 422 names is a field of the request.

A validation problem's ``errors[].field`` tells a client which input to mark: ``body.name``,
``query.start``, ``path.portfolioId``, ``header.Idempotency-Key``, ``body.assets[2].quantity``.
A name the request does not have (a lot's date named ``body.assets[2].date`` where the lot
calls it ``purchaseDate``) points nowhere. This check resolves each name against the
operation's own document: a parameter of that name and place, or a path through the body's
schema (properties, array items, maps, and every branch of ``anyOf``/``oneOf``/``allOf``).

Names of other kinds are a file's, not the request's: a line of a CSV (``line 7.date``), an
OFX element (``BANKTRANLIST/STMTTRN[5].TRNAMT``); they are left alone, except those of the
Ghostfolio file, which is the JSON body itself (``activities[3].unitPrice``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import schemathesis

PLACES = {"query", "path", "header", "cookie"}
GHOSTFOLIO = re.compile(r"/portfolio/import/ghostfolio$")
_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


@schemathesis.check
def error_fields_name_the_request(ctx: Any, response: Any, case: Any) -> bool | None:
    """Each field of a 422's ``errors`` is one the operation's request has."""
    if response.status_code != 422:
        return None
    try:
        errors = json.loads(response.content or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        return None
    operation = case.operation
    sent = case.body if isinstance(case.body, dict | list) else None
    strange = [
        str(error["field"])
        for error in errors
        if isinstance(error, dict)
        and isinstance(error.get("field"), str)
        and not names_the_request(operation, error["field"], sent)
    ]
    if strange:
        raise AssertionError(
            f"{operation.label} answered 422 naming {', '.join(strange)}, which the request "
            "does not have"
        )
    return True


def names_the_request(operation: Any, name: str, sent: Any = None) -> bool:
    """Whether ``name`` is a parameter of ``operation``, a field of its body's schema, or a
    field of the JSON body ``sent`` (a field the schema does not allow is refused by its own
    name: ``body.nickname``, "Extra inputs are not permitted")."""
    place, _, rest = name.partition(".")
    if place in PLACES:
        return any(_is_parameter(parameter, place, rest) for parameter in _parameters(operation))
    if place == "body" or name.startswith("body["):
        rest = name[len("body") :]
    elif GHOSTFOLIO.search(operation.path):
        rest = name
    else:
        return True  # a file's own line or element
    tokens: list[int | str] = [int(index) if index else key for index, key in _TOKEN.findall(rest)]
    return _in_body(operation, tokens) or _sent(sent, rest)


def _sent(value: Any, rest: str, top: bool = True) -> bool:
    """Whether ``rest`` (``.nickname``, ``[2].price``) leads somewhere in the JSON ``value``
    sent; a key may itself hold dots or brackets (a fuzzer's ``K.Ä=``), so each key of an object
    is tried as a prefix."""
    if not rest:
        return True
    if isinstance(value, list):
        index = re.match(r"\[(\d+)\]", rest)
        return (
            index is not None
            and int(index[1]) < len(value)
            and _sent(value[int(index[1])], rest[index.end() :], top=False)
        )
    if not isinstance(value, dict):
        return False
    if rest.startswith("."):
        rest = rest[1:]
    elif not top:
        return False
    return any(
        isinstance(key, str)
        and key
        and rest.startswith(key)
        and _sent(item, rest[len(key) :], False)
        for key, item in value.items()
    )


def _is_parameter(parameter: dict[str, Any], place: str, name: str) -> bool:
    if parameter.get("in") != place:
        return False
    if place == "header":
        return str(parameter.get("name", "")).lower() == name.lower()
    return parameter.get("name") == name


def _parameters(operation: Any) -> Iterator[dict[str, Any]]:
    raw = operation.definition.raw
    path_item = operation.schema.raw_schema["paths"].get(operation.path, {})
    for parameter in [*path_item.get("parameters", []), *raw.get("parameters", [])]:
        yield _resolved(operation, parameter)


def _in_body(operation: Any, tokens: list[int | str]) -> bool:
    body = _resolved(operation, operation.definition.raw.get("requestBody") or {})
    schemas = [media.get("schema", {}) for media in body.get("content", {}).values()]
    return any(_reaches(operation, schema, tokens) for schema in schemas)


def _reaches(operation: Any, schema: Any, tokens: list[int | str]) -> bool:
    """Whether the path ``tokens`` (names and list indices) leads somewhere in ``schema``."""
    if schema is True or not isinstance(schema, dict):
        return schema is True
    schema = _resolved(operation, schema)
    if not tokens:
        return True
    branches = [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]
    if any(_reaches(operation, branch, tokens) for branch in branches):
        return True
    head, tail = tokens[0], tokens[1:]
    if isinstance(head, int):
        items = schema.get("items")
        return items is not None and _reaches(operation, items, tail)
    properties = schema.get("properties", {})
    if head in properties:
        return _reaches(operation, properties[head], tail)
    extra = schema.get("additionalProperties")
    return isinstance(extra, dict) and _reaches(operation, extra, tail)


def _resolved(operation: Any, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` (a local one, ``#/components/...``) followed."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        target: Any = operation.schema.raw_schema
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node, seen = target, seen + 1
    return node
