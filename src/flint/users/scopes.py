"""What each route lets an API key do: the scope it needs, declared in its OpenAPI operation.

A route declares ``x-flint-scope`` through ``openapi_extra`` when its need differs from its
method's default (GET and HEAD read; every other method writes): ``trade`` for placing and
cancelling trades, ``session`` for what only a signed-in person may do (managing keys, the
password, two-factor sign-in, billing, signing out). ``declare_scopes`` writes the default into
every other authenticated operation, so the docs say what each one needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

EXTENSION = "x-flint-scope"
SESSION_ONLY = "session"
"""Declared by routes no API key may call, whatever its scopes."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    READ = "read"
    """Every GET."""
    WRITE = "write"
    """Every change except trading and the account's security."""
    TRADE = "trade"
    """Placing and cancelling trades."""


def requires(scope: Scope | str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that needs ``scope`` (``SESSION_ONLY`` for no key)."""
    return {EXTENSION: str(scope)}


TRADING = requires(Scope.TRADE)
SESSION = requires(SESSION_ONLY)


def default_scope(methods: Iterable[str]) -> Scope:
    return Scope.READ if set(methods) <= READ_METHODS else Scope.WRITE


def scope_of(route: APIRoute) -> str:
    """The scope ``route`` declares, or its methods' default."""
    declared = (route.openapi_extra or {}).get(EXTENSION)
    return str(declared) if declared else default_scope(route.methods or ())


def _calls(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(dep.call is call or _calls(dep, call) for dep in dependant.dependencies)


def declare_scopes(
    routers: Iterable[APIRouter],
    authenticator: Callable[..., Any],
    security: list[dict[str, list[str]]],
) -> None:
    """Write every authenticated route's scope and ``security`` into its OpenAPI operation
    (before the routers are included). Routes that do not depend on ``authenticator`` take no
    key and say none. (The authenticator reads its headers itself rather than through
    FastAPI's security dependencies, each a dependency solved on every request.)"""
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and _calls(route.dependant, authenticator):
                declared = {EXTENSION: scope_of(route), "security": security}
                route.openapi_extra = {**(route.openapi_extra or {}), **declared}
