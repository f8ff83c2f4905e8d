"""`crunch`: many rows' CPU work leaves the event loop's thread, a few rows' stays on it."""

from __future__ import annotations

import threading

from flint.kit.threads import IN_THREAD_FROM, crunch


def where(rows: list[int], *, scale: int) -> tuple[str, int]:
    return threading.current_thread().name, sum(rows) * scale


async def test_many_rows_are_worked_in_a_thread_and_a_few_on_the_loop() -> None:
    loop_thread = threading.current_thread().name
    many = list(range(IN_THREAD_FROM))
    few = many[:-1]

    in_thread, total = await crunch(len(many), where, many, scale=2)
    inline, small = await crunch(len(few), where, few, scale=3)

    assert in_thread != loop_thread
    assert total == sum(many) * 2
    assert inline == loop_thread
    assert small == sum(few) * 3
