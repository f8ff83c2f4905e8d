"""The API documents and their pages, served from Flint itself so they work offline.

Two documents: `/openapi.json` describes `/api/v1` (and the probes); `/api/openapi.json`
describes the same operations at their unversioned `/api` paths, with the same operation ids and
schemas. One document holding both would list every operation twice under one id space (ids
must be unique, so the aliases' would differ) and double both docs pages; a document per
prefix keeps each one a faithful client contract of its own base path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from flint.app.problems import finish_problems
from flint.users.api import security_schemes

STATIC = "/static/docs"
ALIAS_PREFIX = "/api"
ALIAS_OPENAPI = f"{ALIAS_PREFIX}/openapi.json"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
VERSIONED = ("/openapi.json", "/api/v1")  # a docs page's document, and which API it shows
ALIASES = (ALIAS_OPENAPI, ALIAS_PREFIX)

# Flint's token endpoint is the OAuth2 password flow for its own users: there is no client to
# identify. Swagger UI always draws client id, secret and credentials-location fields for that
# flow (no option turns them off), so the page hides their rows.
HIDE_CLIENT_FIELDS = (
    "<style>.auth-container .wrapper:has(#password_type, #client_id_password, "
    "#client_secret_password) { display: none; }</style>"
)


def add_security_schemes(document: dict[str, Any]) -> None:
    """The schemes the signed-in operations name (`flint.users.api.SECURITY`): FastAPI lists
    only those of security dependencies, which the authenticator does without."""
    document.setdefault("components", {})["securitySchemes"] = security_schemes()
    form = document["components"].get("schemas", {}).get(TOKEN_FORM, {}).get("properties", {})
    for name in ("username", "password"):
        if name in form:
            form[name]["minLength"] = 1
    if "grant_type" in form:
        form["grant_type"] = {"title": "Grant Type", "type": "string", "enum": ["password"]}


TOKEN_FORM = "Body_auth-token"  # noqa: S105 - a schema name
"""The OAuth2 password form (FastAPI's): an empty field is a missing one to the server (422),
so the document says each is at least one character; and ``grant_type``, when given, is
``password`` exactly (the pattern ``^password$`` also let ``password\\n`` pass a Python reader,
and a null sent in a form is no grant type)."""


def document_security(app: FastAPI) -> None:
    """``app``'s document gets `add_security_schemes` once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        add_security_schemes(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def alias_document(
    app: FastAPI, routers: Sequence[APIRouter], operation_id: Callable[[APIRoute], str]
) -> dict[str, Any]:
    """The OpenAPI document of `routers` at their unversioned `/api` paths."""
    aliases = APIRouter(generate_unique_id_function=operation_id)
    for router in routers:
        aliases.include_router(router, prefix=ALIAS_PREFIX)
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=aliases.routes,
    )
    add_security_schemes(document)
    document["info"]["description"] = (
        f"{app.description}\n\nThis document shows the unversioned `/api` paths; "
        "[the /api/v1 document](/docs) has the same operations."
    )
    return finish_problems(document)


def install_docs(
    app: FastAPI, routers: Sequence[APIRouter], operation_id: Callable[[APIRoute], str]
) -> None:
    """The second document, the four docs pages (Swagger UI and ReDoc for each), and `/`
    sending a browser to the docs (a newcomer's first address). The endpoints are the module's
    own and read the app from the request, so an app's routes hold nothing made for it."""
    app.state.docs_aliases = (routers, operation_id)
    app.add_api_route("/", front_door, methods=["GET"], include_in_schema=False)
    app.add_api_route(ALIAS_OPENAPI, alias_openapi, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
    for page, endpoint in PAGES.items():
        kind = "redoc" if page.endswith("/redoc") else "swagger"
        app.add_api_route(
            page,
            endpoint,
            methods=["GET"],
            include_in_schema=False,
            name=f"{kind}{page.replace('/', '-')}",
        )


async def front_door(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{request.scope.get('root_path', '')}/docs")


async def alias_openapi(request: Request) -> JSONResponse:
    app: FastAPI = request.app
    document: dict[str, Any] | None = getattr(app.state, "docs_alias_document", None)
    if document is None:
        routers, operation_id = app.state.docs_aliases
        document = app.state.docs_alias_document = alias_document(app, routers, operation_id)
    return JSONResponse(document)


async def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


def _swagger(request: Request, document: str, shown: str) -> HTMLResponse:
    app: FastAPI = request.app
    root = request.scope.get("root_path", "")
    html = get_swagger_ui_html(
        openapi_url=f"{root}{document}",
        title=f"{app.title} {shown} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC}/favicon.png",
        swagger_ui_parameters=app.swagger_ui_parameters,
    )
    body = bytes(html.body).decode().replace("</head>", f"{HIDE_CLIENT_FIELDS}</head>", 1)
    return HTMLResponse(body)


def _redoc(request: Request, document: str, shown: str) -> HTMLResponse:
    app: FastAPI = request.app
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{document}",
        title=f"{app.title} {shown} - ReDoc",
        redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
        with_google_fonts=False,
        redoc_favicon_url=f"{root}{STATIC}/favicon.png",
    )


async def swagger_versioned(request: Request) -> HTMLResponse:
    return _swagger(request, *VERSIONED)


async def redoc_versioned(request: Request) -> HTMLResponse:
    return _redoc(request, *VERSIONED)


async def swagger_aliases(request: Request) -> HTMLResponse:
    return _swagger(request, *ALIASES)


async def redoc_aliases(request: Request) -> HTMLResponse:
    return _redoc(request, *ALIASES)


PAGES: dict[str, Callable[[Request], Any]] = {
    "/docs": swagger_versioned,
    "/redoc": redoc_versioned,
    f"{ALIAS_PREFIX}/docs": swagger_aliases,
    f"{ALIAS_PREFIX}/redoc": redoc_aliases,
}
"""Each docs page and its endpoint."""
