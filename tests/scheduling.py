"""How xdist hands the tests out. A module marked ``waits`` (it starts Flint processes, a
browser or a server restart, or waits on timers, and uses little CPU of its own meanwhile)
becomes one xdist group, unless it is in one already (the tests that stop RabbitMQ share one),
so its tests run one after another on one worker; and the groups are spread through the first
`SPREAD` of the run, so that while one worker waits, the others keep both cores busy.

Ungrouped, in collection order, xdist handed the tests of such a module to every worker at once
(the command-line, demo and log tests of tests/app side by side, tests/system together): all
three waited together and the machine sat 25-60 % idle for half a minute at a time, ~100
core-seconds in a run. The Makefile passes ``--no-loadscope-reorder``: xdist otherwise starts
the groups first, largest first, all of them waiting at once.
"""

from __future__ import annotations

import pytest

SPREAD = 0.7
"""The share of the run (from its start) that the groups are spread over: the end of the run
is short tests, which fill the cores to the last."""


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the tests' ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    blocks: dict[str, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        group = item.get_closest_marker("xdist_group")
        if item.get_closest_marker("waits") is not None and group is None:
            module = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(f"waits:{module}"))
            group = item.get_closest_marker("xdist_group")
        if group is None:
            rest.append(item)
        else:
            name = group.args[0] if group.args else group.kwargs.get("name", "default")
            blocks.setdefault(str(name), []).append(item)  # as xdist names the group
    if not blocks:
        return
    step = SPREAD * len(rest) / len(blocks)
    ordered: list[pytest.Item] = []
    taken = 0
    for index, block in enumerate(blocks.values()):
        upto = max(taken, round(index * step))
        ordered += rest[taken:upto]
        taken = upto
        ordered += block
    ordered += rest[taken:]
    items[:] = ordered
