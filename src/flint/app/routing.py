"""Routing that only tries the routes a path can reach.

FastAPI (0.165) finds a request's route by asking every included router in turn, and each
asks every one of its routes, twice (once to match, once to handle). With each feature's
router included under both `/api/v1` and `/api`, that walk was about 150 regex matches and
scope updates per request: measured with py-spy, 45 % of a route that does nothing. The
middleware that answers 405 (`flint.app.methods`) walked every path template too.

Both now start from the path's literal prefix: the segments of a path template before its
first parameter (`/api/v1/watchlist` for `/api/v1/watchlist/{userId}`). A path can only match
a template whose literal prefix it starts with, so skipping the others changes no answer, only
how many are tried:

* `guard_includes` swaps each router the app includes for one that first checks the literal
  prefix shared by all of its routes (a string comparison) and says "no match" at once when
  the path does not start with it. The order of routes, and so which route wins, is FastAPI's.
* `PathIndex` files templates by the first segments of their literal prefix, so finding the
  candidates for a path is a few dictionary lookups.
* `index_routes` gives the app's own router that index: a request tries only the routes and
  included routers its path can reach, in FastAPI's order, instead of asking each of the ~40
  in turn (a route added late, like the bench's `/bench/ok`, was asked last, after all of them).
  Only a full match is taken this way; anything else (405 candidates, slash redirects, 404s)
  takes FastAPI's own walk, so those answers stay FastAPI's.
* An included router matches a path once per request: FastAPI matched it in `matches` and again
  in `handle`; `_PrefixedInclude` keeps the first answer in the request's scope.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.routing import (
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _extract_endpoint_context,
    _IncludedRouter,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.convertors import Convertor
from starlette.routing import BaseRoute, Match, Mount, compile_path
from starlette.types import Receive, Scope, Send

from flint.app.lean import LeanRoute

T = TypeVar("T")
DEPTH = 3
"""How many leading segments `PathIndex` files a template under (`api`, `v1`, `watchlist`)."""


def literal_segments(path_format: str) -> list[str]:
    """The segments of `path_format` before its first parameter: `/api/v1/trades/{tradeId}`
    gives `["api", "v1", "trades"]`; a segment holding a parameter anywhere ends the list."""
    found: list[str] = []
    for segment in path_format.split("/")[1:]:
        if "{" in segment:
            break
        found.append(segment)
    return found


def common_prefix(path_formats: Iterable[str]) -> str:
    """The literal prefix every one of `path_formats` starts with, as a path (`/api/v1/trades`);
    empty when they share none (or there are none)."""
    shared: list[str] | None = None
    for path_format in path_formats:
        segments = literal_segments(path_format)
        if shared is None:
            shared = segments
            continue
        length = 0
        for mine, theirs in zip(shared, segments, strict=False):
            if mine != theirs:
                break
            length += 1
        shared = shared[:length]
    return "/" + "/".join(shared) if shared else ""


@dataclass
class _PrefixedInclude(_IncludedRouter):
    """An included router that turns a path away with one string comparison when no route of
    its can match it (the path does not start with `literal`)."""

    literal: str = ""
    heads: frozenset[str] | None = None
    """The first segments its routes start with (`healthz`, `readyz`), None when one starts
    with a parameter: for routers whose routes share no prefix."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = get_route_path(scope)  # the path Starlette's routes match against
        if not path.startswith(self.literal):
            return Match.NONE, {}
        if self.heads is not None and _head(path) not in self.heads:
            return Match.NONE, {}
        return super().matches(scope)

    def _match(self, scope: Scope) -> _Matched:
        """FastAPI's `_match`, once per request and path: `matches` and then `handle` (through
        `_handle_selected`) both ask, with the same scope."""
        key = (scope["path"], scope.get("root_path", ""))
        memo: dict[int, tuple[tuple[str, str], _Matched]] = scope.setdefault(MATCHED, {})
        found = memo.get(id(self))
        if found is not None and found[0] == key:
            return found[1]
        matched = super()._match(scope)
        memo[id(self)] = (key, matched)
        return matched


_Matched = tuple[Match, Scope, BaseRoute | None, _EffectiveRouteContext | None]
MATCHED = "flint.matched"
"""The scope key under which included routers keep what they matched for this request."""


def _head(path: str) -> str:
    parts = path.split("/", 2)
    return parts[1] if len(parts) > 1 else ""


def included_routes(include: _IncludedRouter) -> Iterator[tuple[str, BaseRoute]]:
    """The full path of every route `include` reaches (nested includes flattened), with the
    route as its router declared it: the paths FastAPI's `effective_route_contexts` serve,
    without building those contexts. FastAPI builds a route's dependant, validation models and
    handler per app when it builds its context (about 1 ms a route: 0.5 s of CPU for an app),
    and does so by itself for a router's routes the first time a path reaches that router."""
    yield from _included(include.include_context.prefix, include.original_router)


def _included(prefix: str, router: APIRouter) -> Iterator[tuple[str, BaseRoute]]:
    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            yield from _included(prefix + route.include_context.prefix, route.original_router)
            continue
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield prefix + path, route


@functools.lru_cache(maxsize=4096)
def compiled_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Starlette's `compile_path` of ``path``, worked out once per process: the included
    routes' paths are compiled for each app (`guard_includes`, `flint.app.methods.templates`),
    and the tests make an app per test."""
    return compile_path(path)


def guard_includes(app: FastAPI) -> None:
    """Give every router `app` includes its literal-prefix check. Call once every router is
    included; routes added to an included router later would be missed by its prefix, so the
    prefix is computed from the routes as they are then."""
    routes = app.router.routes
    for index, route in enumerate(routes):
        if type(route) is not _IncludedRouter:
            continue
        formats = [compiled_path(path)[1] for path, _ in included_routes(route)]
        if not formats:
            continue
        firsts = [literal_segments(path)[:1] for path in formats]
        heads = None if [] in firsts else frozenset(first[0] for first in firsts)
        values = {field.name: getattr(route, field.name) for field in fields(route) if field.init}
        routes[index] = _PrefixedInclude(**values, literal=common_prefix(formats), heads=heads)


def serve_lean(app: FastAPI) -> None:
    """Make every plain `APIRoute` the app includes a `flint.app.lean.LeanRoute` (the same
    route; only the handler FastAPI builds for it differs). Call before the first request: a
    router's handlers are built when a path first reaches it. Routes of another class of their
    own (`trades.deps.UntaggedErrors`) keep it."""
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            for _, included in included_routes(route):
                if type(included) is APIRoute:
                    included.__class__ = LeanRoute


def prepare_routes(app: FastAPI) -> None:
    """Build now what FastAPI builds for an included router when the first request reaches it,
    for every route (its dependencies, fields and handler). Left to the first request, it held
    up the event loop for 10-30 ms once per router and process, in the middle of whatever else
    the process was answering (the first file import after a start: 30 ms of building the
    import router's routes); all 171 routes take about 0.18 s at start.

    The same for where each handler's source is (FastAPI's context for its error messages):
    FastAPI reads and tokenizes the handler's lines on its first request, 0.3 ms a handler
    on average and 3 ms for the file import's, on the event loop; the 106 handlers take
    about 35 ms at start."""
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            _prepare(route)
    handlers = {id(r.endpoint): r.endpoint for _, r in app_routes(app) if isinstance(r, APIRoute)}
    for handler in handlers.values():
        _extract_endpoint_context(handler)


def app_routes(app: FastAPI) -> Iterator[tuple[str, BaseRoute]]:
    """Every route `app` serves, with its full path (an included router's under each prefix)."""
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            yield from included_routes(route)
        else:
            yield getattr(route, "path", ""), route


def _prepare(include: _IncludedRouter) -> None:
    for candidate in include.effective_candidates():
        if isinstance(candidate, _IncludedRouter):
            _prepare(candidate)
    include.effective_low_priority_routes()


class PathIndex(Generic[T]):
    """Items filed by the literal prefix of their path template, for finding the ones a path
    can match without trying all of them. `candidates(path)` keeps the items' original order."""

    def __init__(self, items: Sequence[T], path_of: Callable[[T], str]) -> None:
        self._buckets: dict[tuple[str, ...], list[tuple[int, T]]] = {}
        for position, item in enumerate(items):
            key = tuple(literal_segments(path_of(item))[:DEPTH])
            self._buckets.setdefault(key, []).append((position, item))
        self._cache: dict[tuple[str, ...], list[T]] = {}

    def candidates(self, path: str) -> list[T]:
        """Every item whose template's literal prefix `path` may start with, in order."""
        key = tuple(path.split("/")[1 : DEPTH + 1])
        found = self._cache.get(key)
        if found is None:
            merged: list[tuple[int, T]] = []
            for length in range(len(key) + 1):
                merged += self._buckets.get(key[:length], [])
            found = [item for _, item in sorted(merged, key=lambda pair: pair[0])]
            if len(self._cache) < 4096:  # the keys are bounded by what clients send
                self._cache[key] = found
        return found


class IndexedRouter(APIRouter):
    """The app's router, trying only the routes a path can reach (`index_routes`)."""

    _flint_index: PathIndex[BaseRoute] | None = None
    _flint_version: object = None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for route in self._candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match is not Match.FULL:
                    continue
                # What FastAPI's own walk does with a full match (`APIRouter.app`).
                _apply_router_form_limits(scope, self.form_limits)
                scope.setdefault("router", self)
                _update_scope(scope, child_scope)
                mount = isinstance(route, Mount)
                _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=mount)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)

    def _candidates(self, path: str) -> list[BaseRoute]:
        # This router's own count and list (FastAPI's `_get_routes_version` walks every
        # included router for its sum: costlier than the lookup it would guard).
        version = (self._routes_version, len(self.routes), id(self.routes))
        if self._flint_index is None or version != self._flint_version:
            self._flint_index = PathIndex(self.routes, _literal_of)
            self._flint_version = version
        return self._flint_index.candidates(path)


def _literal_of(route: BaseRoute) -> str:
    """The literal prefix every path `route` can match starts with ("" when unknown)."""
    if isinstance(route, _PrefixedInclude):
        return route.literal
    if isinstance(route, _IncludedRouter):
        return ""
    found = getattr(route, "path_format", None)
    return found if isinstance(found, str) else ""


def index_routes(app: FastAPI) -> None:
    """Make `app`'s router find routes through a `PathIndex` (after `guard_includes`)."""
    router = app.router
    if type(router) is not APIRouter:
        raise TypeError(f"the app's router is a {type(router).__name__}, not an APIRouter")
    if router.middleware_stack != router.app:  # Starlette bound `app` at construction
        raise TypeError("the app's router has middleware of its own; index_routes would skip it")
    router.__class__ = IndexedRouter
    router.middleware_stack = router.app
