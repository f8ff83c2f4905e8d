"""The stub's account data: accounts, balances, positions and activities."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Route

from tests.stubs.contract import fault
from tests.stubs.snaptrade.app import Call, Result, Stub
from tests.stubs.snaptrade.common import iso

ACCOUNT = "/accounts/{account_id}"


def _without_ids(call: Call, items: list[dict[str, Any]], key: str) -> list[Any]:
    if call.scenario != "missing":
        return items
    fault(call.request)
    return [{k: v for k, v in item.items() if k != key} for item in items]


def routes(stub: Stub) -> list[Route]:
    state = stub.state

    async def accounts(call: Call) -> Result:
        assert call.user is not None
        raws = [a.raw for a in state.user_accounts(call.user.user_id)]
        return 200, _without_ids(call, raws, "id")

    async def account_detail(call: Call) -> Result:
        assert call.account is not None
        return 200, call.account.raw

    async def balances(call: Call) -> Result:
        assert call.account is not None
        return 200, call.account.balances

    async def positions_all(call: Call) -> Result:
        assert call.account is not None
        body = copy.deepcopy(call.account.positions_all)
        body.setdefault("data_freshness", {"as_of": iso(datetime.now(UTC))})
        if call.scenario == "null_units" and body["results"]:
            # The spec makes ``units`` nullable (a position a brokerage reports without them).
            # One with tax lots (whose quantities still say its size), one without.
            for symbol, lots in (("MYST", True), ("HAZE", False)):
                extra = copy.deepcopy(body["results"][0])
                extra["instrument"]["symbol"] = symbol
                extra["units"] = None
                if not lots:
                    extra.pop("tax_lots", None)
                body["results"].append(extra)
        return 200, body

    async def activities(call: Call) -> Result:
        assert call.account is not None
        params = call.request.query_params
        start, end = params.get("startDate"), params.get("endDate")
        rows = [
            a
            for a in call.account.activities
            if (not start or a["trade_date"][:10] >= start)
            and (not end or a["trade_date"][:10] <= end)
        ]
        offset, limit = int(params.get("offset", "0")), int(params.get("limit", "1000"))
        page = _without_ids(call, rows[offset : offset + limit], "id")
        pagination = {"offset": offset, "limit": limit, "total": len(rows)}
        return 200, {"data": page, "pagination": pagination}

    return [
        *stub.route("/accounts", accounts, "GET"),
        *stub.route(ACCOUNT, account_detail, "GET", account=True),
        *stub.route(ACCOUNT + "/balances", balances, "GET", account=True),
        *stub.route(ACCOUNT + "/positions/all", positions_all, "GET", account=True),
        *stub.route(ACCOUNT + "/activities", activities, "GET", account=True),
    ]
