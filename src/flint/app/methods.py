"""Which route a path belongs to, and the 405 that names every method it allows.

Starlette takes the first route whose path and method both match, else the first whose path
matches (a 405 naming only that route's methods). So `GET /trades/execute` reached
`GET /trades/{tradeId}` (a 422 about the id) while `DELETE /watchlist/add` answered
`Allow: POST`. Here a path belongs to its most specific template, a literal segment beating a
parameter from left to right (`/trades/execute` over `/trades/{tradeId}`); a method none of
that template's routes serve answers 405 with all of their methods in `Allow`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from fastapi.routing import _IncludedRouter
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flint.app.problems import problem_response
from flint.app.routing import PathIndex, compiled_path, included_routes


@dataclass(frozen=True)
class Template:
    """One path template and every method the routes declaring it serve."""

    path: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    specificity: tuple[int, ...] = field(init=False, compare=False)
    """Sorts first for the more specific template: 0 for a literal segment, 1 for a parameter,
    compared from the left (worked out once: `owner` compares it on every request)."""

    def __post_init__(self) -> None:
        rank = tuple(1 if "{" in part else 0 for part in self.path.split("/"))
        object.__setattr__(self, "specificity", rank)


def templates(routes: Sequence[BaseRoute]) -> list[Template]:
    """Every HTTP path template of `routes` (included routers flattened), methods merged."""
    found: dict[str, tuple[re.Pattern[str], set[str]]] = {}
    for methods, path, pattern in _http_routes(routes):
        if not methods or not path or pattern is None:  # mounts and WebSockets
            continue
        found.setdefault(path, (pattern, set()))[1].update(methods)
    return [
        Template(path, pattern, frozenset(methods)) for path, (pattern, methods) in found.items()
    ]


def _http_routes(
    routes: Sequence[BaseRoute],
) -> Iterator[tuple[set[str] | None, str | None, re.Pattern[str] | None]]:
    """The methods, path template and pattern of each route; an included router's routes from
    their full paths (`included_routes`: FastAPI builds their contexts only once a path reaches
    them, and this table is built at the first request, whatever it asks)."""
    for route in routes:
        if not isinstance(route, _IncludedRouter):
            yield (
                getattr(route, "methods", None),
                getattr(route, "path_format", None),
                getattr(route, "path_regex", None),
            )
            continue
        for path, included in included_routes(route):
            pattern, path_format, _ = compiled_path(path)
            methods = included.methods if isinstance(included, Route) else None  # not WebSockets
            yield methods, path_format, pattern


def owner(table: Sequence[Template] | PathIndex[Template], path: str) -> Template | None:
    """The most specific template matching `path`, if any does (a `PathIndex` of the templates
    tries only those whose literal prefix the path starts with)."""
    tried = table.candidates(path) if isinstance(table, PathIndex) else table
    matching = [template for template in tried if template.pattern.match(path)]
    return min(matching, key=lambda template: template.specificity, default=None)


class AllowedMethods:
    """Answers 405 (with the full `Allow`) before routing when the path's own template does not
    serve the method; any other request goes on to the router unchanged."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes
        self._table: PathIndex[Template] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._table is None:  # the routes are complete once the app serves
            self._table = PathIndex(templates(self.routes()), lambda template: template.path)
        path = get_route_path(scope)
        template = owner(self._table, path)
        if template is None or scope["method"] in template.methods:
            await self.app(scope, receive, send)
            return
        allowed = ", ".join(sorted(template.methods))
        response = problem_response(
            Request(scope),
            status=405,
            title="Method not allowed",
            slug="method-not-allowed",
            detail=f"{template.path} allows {allowed}.",
            headers={"Allow": allowed},
        )
        await response(scope, receive, send)
