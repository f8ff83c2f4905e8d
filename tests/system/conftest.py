"""Fixtures of the system tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import RunningStub, run_stub


@pytest.fixture
def broker_stub() -> Iterator[tuple[RunningStub, snaptrade_stub.SnapTradeState]]:
    """The SnapTrade stub, served, and its state (users, accounts, orders)."""
    app = snaptrade_stub.create_app()
    with run_stub(app) as stub:
        yield stub, app.state.snaptrade
