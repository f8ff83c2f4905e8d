"""The Twilio stub answers what Twilio's Messages API spec says (``twilio-messages-subset.json``):
every request it is sent and every answer it gives, checked with openapi-core."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from werkzeug.datastructures import Headers

from tests.stubs import twilio
from tests.stubs.contract import Contract, checked, spec_path
from tests.stubs.server import RunningStub, run_stub

MESSAGES = f"/2010-04-01/Accounts/{twilio.ACCOUNT_SID}/Messages.json"


def _contract() -> Contract:
    return Contract(
        spec_path("twilio-messages-subset.json"),
        "https://api.twilio.com",
        undocumented_errors=True,  # the subset lists only each operation's success
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RunningStub, Contract]]:
    app: Starlette = checked(twilio.create_app(), _contract())
    with run_stub(app) as running:
        yield running, app.state.contract


def _auth(token: str = twilio.AUTH_TOKEN) -> dict[str, str]:
    pair = f"{twilio.ACCOUNT_SID}:{token}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


async def test_the_stubs_messages_follow_the_spec(served: tuple[RunningStub, Contract]) -> None:
    stub, contract = served
    stub.control.reset()
    contract.clear()
    async with httpx.AsyncClient(base_url=stub.url) as http:
        created = await http.post(
            MESSAGES,
            data={"To": "+15558675310", "From": twilio.FROM_NUMBER, "Body": "Filled: AAPL"},
            headers=_auth(),
        )
        assert created.status_code == 201, created.text
        listed = await http.get(MESSAGES, params={"To": "+15558675310"}, headers=_auth())
        assert listed.status_code == 200
        assert [m["sid"] for m in listed.json()["messages"]] == [created.json()["sid"]]
        refused = await http.post(MESSAGES, data={"To": "+15558675310"}, headers=_auth("x"))
        assert refused.status_code == 401
    contract.assert_clean()


def test_the_check_catches_an_answer_that_breaks_the_spec() -> None:
    contract = _contract()
    request = contract.request(
        "GET", MESSAGES, b"PageSize=20", {"authorization": _auth()["Authorization"]}, b""
    )
    contract.check_request(request)
    body = b'{"messages": [{"sid": "SM1", "num_segments": 1}], "page": "zero"}'
    contract.check_response(request, 200, Headers({"content-type": "application/json"}), body)
    with pytest.raises(AssertionError, match="not of type"):
        contract.assert_clean()
