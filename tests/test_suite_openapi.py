"""The tests' shared OpenAPI schemas (tests/shared_openapi.py): apps of the same routes make
their model schemas once between them, and each gets a document of its own; an app with a
route of other fields gets the schemas of its own fields."""

from __future__ import annotations

from typing import Any

import fastapi.openapi.utils as openapi_utils
from fastapi._compat import get_model_name_map
from fastapi.utils import create_model_field
from pydantic import BaseModel

from flint.app.main import create_app
from flint.config import Settings
from tests import shared_openapi


class Extra(BaseModel):
    """A model no router of Flint's has."""

    nickname: str
    shoe_size: int


async def extra(body: Extra) -> Extra:
    return body


async def document(settings: Settings, *routes: tuple[str, Any, type[BaseModel]]) -> dict[str, Any]:
    """The document of an app of ``settings``, with ``routes`` (a POST each) added."""
    app = create_app(settings)
    try:
        for path, endpoint, model in routes:
            app.add_api_route(path, endpoint, methods=["POST"], response_model=model)
        schema: dict[str, Any] = app.openapi()
        return schema
    finally:
        await app.state.runtime.aclose()


async def test_apps_of_the_same_routes_share_the_schemas_and_each_has_its_own_document(
    settings: Settings,
) -> None:
    first = await document(settings)
    before = dict(shared_openapi.made)

    second = await document(settings)

    assert shared_openapi.made == before  # nothing made again
    assert second == first


def test_each_caller_gets_schemas_of_its_own_to_change() -> None:
    fields = [create_model_field("body", Extra)]
    names = get_model_name_map(
        openapi_utils.get_flat_models_from_fields(fields, known_models=set())
    )

    def definitions() -> tuple[dict[Any, Any], dict[str, Any]]:
        made: tuple[dict[Any, Any], dict[str, Any]] = openapi_utils.get_definitions(
            fields=fields, model_name_map=names, separate_input_output_schemas=True
        )
        return made

    before = shared_openapi.made["schemas"]
    mapping, schemas = definitions()
    assert shared_openapi.made["schemas"] == before + 1  # a field never seen: made
    schemas["Extra"]["title"] = "Changed by a caller"
    schemas["Other"] = {}
    next(iter(mapping.values()))["title"] = "Changed too"

    again = definitions()

    assert shared_openapi.made["schemas"] == before + 1  # the same field: kept
    assert again[1] == {"Extra": {**again[1]["Extra"], "title": "Extra"}}
    assert next(iter(again[0].values())) == {"$ref": "#/components/schemas/Extra"}


async def test_an_app_with_a_route_of_its_own_gets_the_schemas_of_its_fields(
    settings: Settings,
) -> None:
    plain = (await document(settings))["components"]["schemas"]

    changed = await document(settings, ("/api/v1/extra", extra, Extra))

    schemas = changed["components"]["schemas"]
    assert "Extra" not in plain
    assert set(schemas["Extra"]["properties"]) == {"nickname", "shoe_size"}
    assert changed["paths"]["/api/v1/extra"]["post"]["requestBody"]
    assert all(schemas[name] == schema for name, schema in plain.items())
