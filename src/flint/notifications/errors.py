"""How a delivery attempt can fail, as the outbox needs to know it."""

from __future__ import annotations


class DeliveryError(Exception):
    """A transient failure to hand the message over (server down, throttled): the task
    retries it with backoff."""


class Undeliverable(Exception):
    """A permanent refusal (an invalid number, bad credentials): retrying cannot help, so the
    message is marked failed at once."""
