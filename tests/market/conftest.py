"""Fixtures for the vendor adapter tests. A module picks its adapter with a module-scoped
``vendor`` fixture (a :class:`tests.market.vendors.Vendor`); ``stub`` serves that vendor's stub,
``control`` steers it and ``build(...)`` makes adapters against it, closed after the test."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.market.vendors import Build, Vendor
from tests.stubs.fixtures import Closing, closing, control, stub
from tests.stubs.server import RunningStub, StubControl

__all__ = ["build", "closing", "control", "served_app", "stub"]


@pytest.fixture(scope="module")
def served_app(vendor: Vendor) -> Starlette:
    return vendor.create_app()


@pytest.fixture
def build(vendor: Vendor, stub: RunningStub, control: StubControl, closing: Closing) -> Build:
    def make(*options: object, **overrides: object) -> Any:
        return closing(vendor.connect(stub.url, *options, **overrides))

    return make
