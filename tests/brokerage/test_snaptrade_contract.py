"""The SnapTrade stub against SnapTrade's own spec (``snaptrade-api.yaml``): every operation it
serves is one the spec has, and the check that runs on every exchange of the adapter's tests
(``spec_checked``) does catch what breaks the spec."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from werkzeug.datastructures import Headers

from tests.stubs.contract import Contract
from tests.stubs.fixtures import closing, control, stub
from tests.stubs.server import RunningStub, StubControl
from tests.stubs.snaptrade.fixtures import (
    NO_CA,
    build,
    connect,
    linked,
    provider,
    served_app,
    spec_checked,
    state,
)

__all__ = [
    "build",
    "closing",
    "connect",
    "control",
    "linked",
    "provider",
    "served_app",
    "spec_checked",
    "state",
    "stub",
]

JSON = Headers({"content-type": "application/json"})


def test_every_operation_the_stub_serves_is_in_the_spec(
    served_app: Starlette, spec_checked: Contract
) -> None:
    paths = spec_checked.openapi.spec / "paths"
    served = [
        (route.path, method.lower())
        for route in served_app.routes
        if isinstance(route, Route) and not route.path.startswith(("/_", "/api/v1/"))
        for method in route.methods or ()
        if method != "HEAD"
    ]
    assert len(served) >= 15
    for path, method in served:
        template = re.sub(r"\{(\w+?)_id\}", lambda m: "{" + _camel(m.group(1)) + "Id}", path)
        assert template in paths, f"{path}: no such path in the spec"
        assert method in paths / template, f"{method.upper()} {path}: no such operation"


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_check_catches_a_removed_route_and_a_wrong_record(spec_checked: Contract) -> None:
    contract = Contract(spec_checked.spec, spec_checked.server)
    query = b"clientId=C&timestamp=1&userId=u&userSecret=s"
    auth = {"signature": "x"}
    gone = contract.request(
        "DELETE", "/authorizations/0b3ebefb-ed47-43df-cd8f-729a4420b5cf", query, auth, b""
    )
    contract.check_request(gone)
    assert len(contract.violations) == 1
    assert "OperationNotFound" in contract.violations[0]
    contract.clear()

    recent = contract.request(
        "GET", "/accounts/917c8734-8470-4a3e-a18f-57c3f2ee6631/recentOrders", query, auth, b""
    )
    contract.check_request(recent)
    contract.check_response(recent, 200, JSON, b'{"orders": [{"brokerage_order_id": "1"}]}')
    contract.assert_clean()
    contract.check_response(recent, 200, JSON, b'{"orders": [{"total_quantity": 100}]}')
    contract.check_response(recent, 200, JSON, b'{"orders": [{"status": "DONE"}]}')
    assert len(contract.violations) == 2


async def test_the_legacy_prefix_answers_with_a_deprecation_header(
    stub: RunningStub, control: StubControl, spec_checked: Contract
) -> None:
    params = {"clientId": "nobody", "timestamp": "1"}
    async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
        legacy = await client.get("/api/v1/accounts", params=params, headers={"Signature": "x"})
        root = await client.get("/accounts", params=params, headers={"Signature": "x"})
    assert legacy.headers["deprecation"] == "@1781222400"
    assert "deprecation" not in root.headers
    assert legacy.status_code == root.status_code == 401  # unsigned (what the check saw)
    spec_checked.clear()
