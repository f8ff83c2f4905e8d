"""The walk of the authorization matrix: each route of the app (from its router) with each id it
takes, answered to another user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from tests.auth.helpers import without_request_id
from tests.authz.rows import Rows, rows_of
from tests.authz.world import World
from tests.routes import (
    LISTED,
    ONCE,
    PREFIXES,
    TABLE,
    UUID_KINDS,
    Route,
    api_routes,
    fill,
    id_locations,
)

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Case:
    prefix: str
    route: Route
    location: str
    kind: str

    def __str__(self) -> str:
        return f"{self.route.method} {self.prefix}{self.route.path} [{self.location}]"


def table_problems(app: FastAPI) -> list[str]:
    """What the table of routes lacks for the app's routes: a route it does not know, an id a
    route takes that it does not name (so cannot fill), a route served under one prefix only."""
    problems, seen = [], set()
    for prefix, route, served in api_routes(app):
        seen.add((prefix, route.key))
        if route.key not in TABLE:
            problems.append(f"{route.method} {route.path}: not in tests/routes.py")
        found, declared = id_locations(served), set(route.ids)
        for location in sorted(found - declared):
            problems.append(f"{route.method} {route.path}: {location} not in tests/routes.py")
        for location in sorted(declared - found):
            if not location.startswith("content."):
                problems.append(f"{route.method} {route.path}: takes no {location}")
    for key in TABLE:
        problems += [f"{key} not served under {p}" for p in PREFIXES if (p, key) not in seen]
    return problems


def cases(app: FastAPI) -> Iterator[Case]:
    """Each route under each prefix with each id it takes (listed symbols are everyone's;
    `ONCE` kinds under /api/v1 only)."""
    for prefix, route, _ in api_routes(app):
        for location, kind in route.ids.items():
            if kind != LISTED and (kind not in ONCE or prefix == PREFIXES[0]):
                yield Case(prefix, route, location, kind)


def answer(response: httpx.Response, sent: str) -> tuple[Any, ...]:
    """What a response tells the caller, with the id it was sent written `<id>`: the status,
    whether it replays an earlier answer, and a problem's type, title, detail and errors."""
    told: Any = None
    if response.headers.get("content-type", "").startswith(PROBLEM):
        body = response.json()
        errors = [(e["field"], e["message"].replace(sent, "<id>")) for e in body.get("errors", [])]
        told = (body["type"], body["title"], body["detail"].replace(sent, "<id>"), errors)
    return response.status_code, response.headers.get("idempotent-replayed"), told


async def call(
    client: httpx.AsyncClient, case: Case, who: World, values: dict[str, str], wrong: list[str]
) -> httpx.Response:
    """The case's request as `who`, with `values` for the ids; what it made is taken back."""
    response = await case.route.request(values, case.location).send(
        client, case.prefix, who.headers
    )
    if case.route.undo and response.is_success:
        path = case.prefix + fill(case.route.undo, values)
        undone = await client.delete(path, headers=who.headers)
        if not undone.is_success:
            wrong.append(f"{case}: cannot take back what it made: {undone.text[:300]}")
    return response


async def cross(
    client: httpx.AsyncClient,
    app: FastAPI,
    case: Case,
    owner: World,
    caller: World,
    unknown: str,
    before: Rows,
) -> tuple[list[str], tuple[Any, ...], Rows]:
    """The caller sends an id that exists nowhere (`unknown`), then the owner's: what is wrong
    with the owner's id's answer, the unknown one's answer, and the owner's rows after both
    (``before``: as the last case left them; neither call may change them)."""
    kind = case.kind
    wrong: list[str] = []
    nowhere = await call(client, case, caller, {**caller.ids, kind: unknown}, wrong)
    foreign = await call(client, case, caller, {**caller.ids, kind: owner.ids[kind]}, wrong)
    after = await rows_of(app, owner.account.user_id)
    if after != before:
        changed = [table for table in before if before[table] != after.get(table)]
        wrong.append(f"{case}: changed the owner's {', '.join(changed)}")
    told = answer(foreign, owner.ids[kind])
    expected = answer(nowhere, unknown)
    if told != expected:
        wrong.append(f"{case}: {foreign.status_code} {foreign.text[:300]} (unknown: {expected})")
    if kind in UUID_KINDS and (foreign.status_code != 404 or told[2] is None):
        wrong.append(f"{case}: {foreign.status_code}, not a 404 problem")
    leaked = sorted(s for s in owner.secrets - {owner.ids[kind]} if s in foreign.text)
    if leaked:
        wrong.append(f"{case}: the answer holds the owner's {leaked}")
    return wrong, expected, after


def control_order(all_cases: list[Case]) -> list[Case]:
    """Each route once (/api/v1), with what removes things last, the deepest paths first (a
    portfolio's following before the portfolio), so each control finds the caller's data."""
    rank = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
    chosen = [case for case in all_cases if case.prefix == PREFIXES[0]]

    def key(case: Case) -> tuple[int, int]:
        depth = -case.route.path.count("/") if case.route.method == "DELETE" else 0
        return rank[case.route.method], depth

    return sorted(chosen, key=key)


async def views(client: httpx.AsyncClient, owner: World) -> dict[str, Any]:
    """Everything the owner reads of theirs: each GET route of the table with the owner's ids
    (the market's, everyone's and moving, left out; a problem without its request id)."""
    seen: dict[str, Any] = {}
    for route in TABLE.values():
        if route.method != "GET" or route.scope == "public" or route.path.startswith("/market/"):
            continue
        response = await route.request(owner.ids).send(client, PREFIXES[0], owner.headers)
        seen[route.path] = (response.status_code, response.content)
        if response.headers["content-type"].startswith(PROBLEM):
            seen[route.path] = (response.status_code, without_request_id(response.json()))
    return seen
