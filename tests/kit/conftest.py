"""Fixtures for the kit tests: the stub-server fixtures (each module names its ``stub_app``)."""

from __future__ import annotations

from tests.stubs.fixtures import closing, control, stub

__all__ = ["closing", "control", "stub"]
