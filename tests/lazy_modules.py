"""Reference libraries that only a few tests use, imported when one of them first touches it.

quantstats, empyrical and pandas (with SciPy under them) cost about 1 s of CPU to import; at
module level every xdist worker paid it while collecting, whether or not it ran one of the tests
that use them. This is the standard library's recipe (importlib.util.LazyLoader)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module `name`, executed when an attribute of it is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
