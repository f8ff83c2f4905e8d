"""How xdist hands the tests out: each module marked ``processes`` (it starts Flint processes,
a browser or a server restart, and mostly waits on them) becomes one xdist group, unless it is
in a group already (the tests that stop RabbitMQ share one), so its tests run one after
another on one worker while the other workers keep both cores busy.

Ungrouped, xdist handed the tests of such a module to every worker at once (the command-line,
demo and log tests of tests/app side by side): all three waited together and the machine sat
25-60 % idle for half a minute at a time, ~100 core-seconds in a run. xdist starts the groups
first, largest first (``--dist loadgroup`` orders its units by size), so the run ends on short
tests that fill the cores to the last.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the tests' ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("processes") is None:
            continue
        if item.get_closest_marker("xdist_group") is None:
            module = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(f"processes:{module}"))
