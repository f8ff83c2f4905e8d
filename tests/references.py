"""The libraries a few tests check Flint's figures against (quantstats, empyrical, pandas),
imported when a test first uses one rather than while every test process collects the suite:
quantstats and empyrical bring pandas and SciPy, 1.5 s of CPU and ~100 MiB in each of the
four processes, for tests that run on one of them (their modules share an xdist group)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

GROUP = "reference-libraries"
"""The xdist group of the modules that use them."""


class Deferred:
    """A module imported on its first attribute read (``qs = Deferred("quantstats")``;
    ``qs.stats.comp(r)`` imports quantstats, then reads as the module does)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # pytest asks every module-level name for `__test__`
            raise AttributeError(attribute)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
