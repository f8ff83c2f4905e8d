"""A task queue of a test's own on the shared RabbitMQ (`own_task_queue`, or the `task_queue`
fixture), removed at its end.

Tests that run Flint's processes on RabbitMQ give them a queue of their own
(``FLINT_TASK_QUEUE``), so no other test's worker takes their tasks. Celery declares it, and a
direct exchange of the same name, durable: left behind, every run of the suite added eight of
each to the server the machine keeps, some still holding the messages a test never consumed."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import kombu
import pytest
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError


@pytest.fixture
def task_queue() -> Iterator[str]:
    """`own_task_queue` for the test."""
    with own_task_queue() as name:
        yield name


@contextlib.contextmanager
def own_task_queue() -> Iterator[str]:
    """A fresh queue name, ``flint-test-<8 hex>``; its queue and exchange deleted (with any
    message left in it) once the block ends, however it ended. A server that does not answer
    then (a test that stopped it and could not start it again fails for that itself) is left as
    it is."""
    from tests.conftest import service_url  # this module is part of the conftest

    url = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    name = f"flint-test-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        with (
            contextlib.suppress(OSError, AMQPError, OperationalError),
            kombu.Connection(url) as amqp,
        ):
            amqp.ensure_connection(max_retries=1, timeout=10)
            amqp.default_channel.queue_delete(name)  # with what it holds; none: nothing to do
            amqp.default_channel.exchange_delete(name)
