"""The in-memory broker of the tests' Celery workers (``flint-test-memory://``): kombu's memory
transport, answering each wait for messages within `DRAIN_SECONDS`.

Celery's solo worker looks at its stop flag only between two waits for messages, and it waits
2 s at a time, then once more after it has seen the flag: every test that ran a worker spent
4-5 s stopping it (about a hundred tests). Short waits let it stop within a fraction of a
second, and a message sent to an idle worker is taken within `POLLING_SECONDS`, not a second.
The queues are the memory transport's own, shared by every connection in the process, so the
API's side publishes to them with the same URL. They outlive a test, so each test starts with
them empty (`forget_messages`): a message a test sent and never consumed was otherwise taken
by the next worker started in that process, another test's."""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES, memory

DRAIN_SECONDS = 0.1
POLLING_SECONDS = 0.02
URL = "flint-test-memory://"


class QuickMemoryTransport(memory.Transport):  # type: ignore[misc]
    polling_interval = POLLING_SECONDS

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        wait = DRAIN_SECONDS if timeout is None else min(timeout, DRAIN_SECONDS)
        return super().drain_events(connection, timeout=wait, **kwargs)


def forget_messages() -> int:
    """Empty every queue of the process's memory broker; the count of messages dropped."""
    dropped = 0
    for queue in memory.Channel.queues.values():
        with queue.mutex:
            dropped += len(queue.queue)
            queue.queue.clear()
    return dropped


TRANSPORT_ALIASES["flint-test-memory"] = f"{__name__}:QuickMemoryTransport"
