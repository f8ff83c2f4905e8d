"""Another user's ids, everywhere (issue 20): for every route of the app, read from its router
under /api/v1 and /api, and every id it takes in its path, query, body or headers, Bob sending
Alice's id is answered exactly as an id that exists nowhere (404 for Flint's own ids), sees none
of Alice's data and changes none of Alice's rows; and the same request with Bob's own id is
answered otherwise (a success, or the refusal the table names: cancelling his filled trade is
409), so each call reached what it is meant to; and nothing Bob reads of his own holds any of
Alice's data.

Both have one of everything (`tests.authz.world`); the routes, their ids and bodies are the one
table of routes (`tests.routes`): a route, or an id of a route, it does not know fails here.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.authz.matrix import answer, call, cases, control_order, cross, table_problems, views
from tests.authz.rows import rows_of
from tests.authz.world import build
from tests.routes import PREFIXES, TABLE, nobody

KINDS = {kind for route in TABLE.values() for kind in route.ids.values()}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_and_every_id_it_takes_is_in_the_table(app: FastAPI) -> None:
    assert table_problems(app) == []


def test_a_route_or_an_id_the_table_does_not_know_is_found() -> None:
    """What makes the walk below fail rather than skip: a route the table lacks, and a route
    of the table taking an id it does not name."""
    router = APIRouter()

    @router.get("/alerts/{alertId}")
    async def read(alertId: uuid.UUID, portfolioId: uuid.UUID | None = None) -> None:
        return None

    @router.post("/alerts/{alertId}/snooze")
    async def snooze(alertId: uuid.UUID) -> None:
        return None

    app = FastAPI()
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)
    problems = table_problems(app)

    assert "GET /alerts/{alertId}: query.portfolioId not in tests/routes.py" in problems
    assert "POST /alerts/{alertId}/snooze: not in tests/routes.py" in problems
    assert "POST /alerts/{alertId}/snooze: path.alertId not in tests/routes.py" in problems


@pytest.mark.usefixtures("worker")
async def test_another_users_ids_answer_as_unknown_ones_and_change_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert table_problems(app) == []
    alice = await build(client, app, "Alice")
    bob = await build(client, app, "Bob")
    assert KINDS <= alice.ids.keys() == bob.ids.keys()
    before = await views(client, alice)

    wrong: list[str] = []
    unknown = {}
    walked = list(cases(app))
    rows = await rows_of(app, alice.account.user_id)
    for case in walked:
        found, unknown[case], rows = await cross(
            client, app, case, alice, bob, nobody()[case.kind], rows
        )
        wrong += found
    after = await views(client, alice)
    wrong += [f"Alice's GET {path} changed" for path in before if after[path] != before[path]]

    for path, (_, seen) in (await views(client, bob)).items():
        text = seen.decode("utf-8", "replace") if isinstance(seen, bytes) else str(seen)
        if leaked := sorted(secret for secret in alice.secrets if secret in text):
            wrong.append(f"Bob's own GET {path} holds Alice's {leaked}")

    deleted: dict[tuple[str, str], httpx.Response] = {}
    for case in control_order(walked):
        if case.route.method == "DELETE" and case.route.key in deleted:
            own = deleted[case.route.key]  # gone after the first: that answer is each id's
        else:
            own = await call(client, case, bob, bob.ids, wrong)
            if case.route.method == "DELETE":
                deleted[case.route.key] = own
        if answer(own, bob.ids[case.kind]) == unknown[case]:
            wrong.append(f"{case}: Bob's own id is answered as an unknown one: {own.text[:300]}")
        elif not (own.status_code == case.route.own if case.route.own else own.is_success):
            wrong.append(f"{case}: Bob's own call answers {own.status_code}: {own.text[:300]}")
    assert not wrong, "\n".join(wrong)
    assert len(walked) > 100
