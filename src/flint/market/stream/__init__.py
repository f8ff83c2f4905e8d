"""Live quotes over WebSocket: one hub per API process, fanned out through a broadcast.

Each API process polls the quotes its own clients subscribe to (through the quote cache, so many
processes cost one vendor call per symbol and cache period) and publishes the changed ones. The
broadcast is Redis pub/sub when `FLINT_REDIS_URL` is set, so a quote polled by one process
reaches the clients of all of them, and a direct call in-process otherwise. A Celery task
publishes with :func:`publish_to_redis`.

Quotes are fanned out one after the other, in publish order: each is queued for its
subscribers and written to every client that is keeping up before the next one is fanned out
(publishing returns then), so in a burst the first quote reaches everyone first.

Every client has a bounded queue. The hub never waits for a client: a client whose queue is full
when a quote arrives is disconnected (1013) rather than slowing the others down. Replies to a
client's own messages wait for room instead, so a large subscribe never drops its sender. Several
processes may publish the same quote, so each client is sent a quote only when it is newer than
the last one it got for that symbol (same timestamp and price: a duplicate; older: out of date).

Inside: ``messages`` (the wire formats), ``broadcast`` (the fan-out between processes),
``client`` (one connection's queue), ``subscriptions`` (who follows what, and the client
messages that change it) and ``hub`` (connections, the poller, the fan-out to clients).
"""

from flint.market.stream.broadcast import (
    DEFAULT_CHANNEL,
    Broadcast,
    LocalBroadcast,
    RedisBroadcast,
    create_broadcast,
    publish_to_redis,
)
from flint.market.stream.client import CLOSE_UNAUTHORIZED
from flint.market.stream.hub import QuoteHub
from flint.market.stream.messages import quote_message

__all__ = [
    "CLOSE_UNAUTHORIZED",
    "DEFAULT_CHANNEL",
    "Broadcast",
    "LocalBroadcast",
    "QuoteHub",
    "RedisBroadcast",
    "create_broadcast",
    "publish_to_redis",
    "quote_message",
]
