"""The stub's users and connections: register, rotate, delete; the portal; connections."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.stubs.snaptrade.app import Call, Result, Stub
from tests.stubs.snaptrade.common import CLIENT_ID, iso, refusal, sample_error
from tests.stubs.snaptrade.state import Connection, PortalSession, User


def routes(stub: Stub) -> list[Route]:
    state, control = stub.state, stub.control

    async def register(call: Call) -> Result:
        user_id = call.body.get("userId") if isinstance(call.body, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return refusal(400, "userId is required")
        if user_id in state.users:
            detail = f"User with the following userId already exist: '{user_id}'"
            return refusal(400, detail, "1010")
        user = User(user_id, str(uuid.uuid4()))
        state.users[user_id] = user
        if call.scenario == "register_lost":  # created, then the answer is lost
            return sample_error(500)
        if call.scenario == "register_timeout":
            await control.pause()
        return 200, {"userId": user.user_id, "userSecret": user.secret}

    async def reset_secret(call: Call) -> Result:
        body = call.body if isinstance(call.body, dict) else {}
        user = state.users.get(str(body.get("userId", "")))
        if user is None or not secrets.compare_digest(user.secret, str(body.get("userSecret", ""))):
            return JSONResponse(
                {"default_detail": "Invalid userID or userSecret provided", "default_code": 1083},
                status_code=401,
            )
        user.secret = str(uuid.uuid4())
        return 200, {"userId": user.user_id, "userSecret": user.secret}

    async def delete_user(call: Call) -> Result:
        user_id = call.request.query_params.get("userId", "")
        if user_id not in state.users:
            return sample_error(404)
        del state.users[user_id]
        for connection in [c for c in state.connections.values() if c.user_id == user_id]:
            _drop(connection)
        state.deleted_users.append(user_id)
        return 200, {
            "status": "deleted",
            "detail": "User queued for deletion; please wait for webhook for confirmation.",
            "userId": user_id,
        }

    async def login(call: Call) -> Result:
        assert call.user is not None
        body = call.body if isinstance(call.body, dict) else {}
        session_id = str(uuid.uuid4())
        redirect, reconnect = body.get("customRedirect"), body.get("reconnect")
        state.sessions[session_id] = PortalSession(
            call.user.user_id,
            str(body.get("connectionType") or "read"),
            redirect if isinstance(redirect, str) else None,
            reconnect if isinstance(reconnect, str) else None,
        )
        token = secrets.token_urlsafe(24)
        portal = f"{call.request.base_url}_portal?" + urlencode(
            {"token": token, "clientId": CLIENT_ID, "sessionId": session_id}
        )
        return 200, {"redirectURI": portal, "sessionId": session_id}

    async def portal(request: Request) -> Response:
        session = state.sessions.pop(request.query_params.get("sessionId", ""), None)
        if session is None:
            return HTMLResponse("<p>This link has expired.</p>", status_code=404)
        kind = "read" if session.connection_type == "read" else "trade"
        repaired = state.connections.get(session.reconnect or "")
        if repaired is not None and repaired.user_id == session.user_id:
            repaired.disabled = False  # reconnect mode repairs the connection, same id
            authorization_id = repaired.id
        else:
            authorization_id = state.connect(session.user_id, kind=kind)
        if session.redirect:
            joiner = "&" if "?" in session.redirect else "?"
            query = urlencode({"status": "SUCCESS", "authorizationId": authorization_id})
            return RedirectResponse(f"{session.redirect}{joiner}{query}", status_code=302)
        return JSONResponse({"authorizationId": authorization_id})

    async def connect(request: Request) -> Response:
        body = await request.json()
        user_id = body.get("userId")
        if user_id not in state.users:
            return JSONResponse({"detail": "unknown user"}, status_code=404)
        authorization_id = state.connect(
            user_id,
            str(body.get("broker", "ROBINHOOD")),
            str(body.get("type", "trade")),
            bool(body.get("disabled", False)),
            lists_orders=bool(body.get("listsOrders", True)),
        )
        return JSONResponse({"authorizationId": authorization_id})

    def _connection(call: Call, key: str) -> Connection | None:
        assert call.user is not None
        found = state.connections.get(call.request.path_params[key])
        return found if found is not None and found.user_id == call.user.user_id else None

    def _drop(connection: Connection) -> None:
        del state.connections[connection.id]
        for account_id in [
            a.id for a in state.accounts.values() if a.connection_id == connection.id
        ]:
            del state.accounts[account_id]

    async def authorization(call: Call) -> Result:
        found = _connection(call, "authorization_id")
        if found is None:
            return sample_error(404)
        return 200, _authorization(found)

    async def delete_connection(call: Call) -> Result:
        found = _connection(call, "connection_id")
        if found is None:
            return sample_error(404)
        _drop(found)  # SnapTrade queues it; the CONNECTION_DELETED webhook follows
        state.deleted_connections[found.id] = found
        return 200, {
            "detail": "Connection queued for deletion; please wait for webhook for confirmation.",
            "connection_id": found.id,
        }

    return [
        Route("/_portal", portal, methods=["GET"]),
        Route("/_connect", connect, methods=["POST"]),
        *stub.route("/snapTrade/registerUser", register, "POST", user_scoped=False),
        *stub.route("/snapTrade/resetUserSecret", reset_secret, "POST", user_scoped=False),
        *stub.route("/snapTrade/deleteUser", delete_user, "DELETE", user_scoped=False),
        *stub.route("/snapTrade/login", login, "POST"),
        *stub.route("/authorizations/{authorization_id}", authorization, "GET"),
        *stub.route("/connection/{connection_id}", delete_connection, "DELETE"),
    ]


def _authorization(found: Connection) -> dict[str, Any]:
    name = "Coinbase" if found.broker == "COINBASE" else "Robinhood"
    return {
        "id": found.id,
        "created_date": found.created,
        "brokerage": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, found.broker)),
            "slug": found.broker,
            "name": name,
            "display_name": name,
            "allows_trading": True,
            "enabled": True,
            "maintenance_mode": False,
        },
        "name": f"Connection-{found.id[:4]}",
        "type": found.type,
        "disabled": found.disabled,
        "disabled_date": iso(datetime.now(UTC)) if found.disabled else None,
        "meta": {},
    }
