"""Fixtures for tests that talk to a stub server; a directory's conftest imports them.

A test module (or conftest) names its stub with a module-scoped ``served_app`` fixture that
returns an app built by :func:`tests.stubs.server.stub_app`. ``stub`` then serves it for the
module, ``control`` hands each test the stub's control freshly reset, and ``closing`` closes
the clients a test builds once the test is over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Protocol, TypeVar

import pytest
from starlette.applications import Starlette

from tests.stubs.server import RunningStub, StubControl, run_stub


class _Closable(Protocol):
    async def aclose(self) -> None: ...


_Client = TypeVar("_Client", bound=_Closable)


class Closing:
    """Call it on a client to have it closed after the test; returns the client."""

    def __init__(self) -> None:
        self._made: list[_Closable] = []

    def __call__(self, client: _Client) -> _Client:
        self._made.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._made:
            await client.aclose()


@pytest.fixture(scope="module")
def stub(served_app: Starlette) -> Iterator[RunningStub]:
    with run_stub(served_app) as running:
        yield running


@pytest.fixture
def control(stub: RunningStub) -> Iterator[StubControl]:
    """The stub's control, reset; answers the test held back are let go when it ends."""
    stub.control.reset()
    yield stub.control
    stub.control.release()


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    made = Closing()
    yield made
    await made.aclose()
