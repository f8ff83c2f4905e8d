"""`collector_paused`: the cycle collector off for a block (imports, start-up, a file import)
and as it was after, whatever the block raised."""

from __future__ import annotations

import gc

import pytest

from flint.kit.heap import collector_paused


def test_the_collector_is_off_in_the_block_and_on_again_after_it() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the inner block does not turn it back on
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_block_that_raises_leaves_the_collector_on() -> None:
    with pytest.raises(ImportError), collector_paused():
        import flint.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
