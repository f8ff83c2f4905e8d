"""A stream client's sending on its own: written at once while the connection takes it, in order
behind a write that has to wait, and dropped (1013) when its queue fills meanwhile."""

from __future__ import annotations

import asyncio

from flint.market.stream.client import Client


class Connection:
    """A connection's send whose writes wait while ``open`` is clear (a full socket buffer)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, text: str) -> None:
        await self.open.wait()
        self.written.append(text)


async def test_a_client_that_keeps_up_is_written_to_at_once() -> None:
    connection = Connection()
    client = Client(queue_size=2)
    client.attach(connection.send)

    for n in range(5):
        assert client.push(f"quote {n}")
        assert connection.written[-1] == f"quote {n}"  # no task ran in between
    assert not client.queue


async def test_what_is_pushed_while_a_write_waits_follows_it_in_order() -> None:
    connection = Connection()
    client = Client(queue_size=3)
    client.attach(connection.send)
    connection.open.clear()

    for n in range(4):
        assert client.push(f"quote {n}")
    assert connection.written == []
    assert list(client.queue) == ["quote 1", "quote 2", "quote 3"]

    connection.open.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert connection.written == [f"quote {n}" for n in range(4)]
    assert not client.queue

    assert client.push("quote 4")
    assert connection.written[-1] == "quote 4"


async def test_a_client_whose_queue_fills_behind_a_waiting_write_is_dropped() -> None:
    connection = Connection()
    client = Client(queue_size=2)
    client.attach(connection.send)
    connection.open.clear()

    assert client.push("waits")
    assert client.push("queued 1")
    assert client.push("queued 2")
    assert not client.push("one too many")
    assert client.close_code == 1013
    assert client.closed.is_set()

    client.detach()  # the hub forgets it; the waiting write is cancelled
    connection.open.set()
    await asyncio.sleep(0)
    assert connection.written == []


async def test_messages_queued_before_the_connection_is_attached_go_first() -> None:
    connection = Connection()
    client = Client(queue_size=4)
    client.push("ready")
    client.attach(connection.send)
    client.push("quote")
    await asyncio.sleep(0)
    assert connection.written == ["ready", "quote"]
