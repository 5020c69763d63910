"""The event bus: "something changed" hints for live screens.

Events are hints, not state: a client that missed one reloads from the API. One
interface, two implementations: in-process for a single node, Redis pub/sub for several.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.db import after_commit

log = logging.getLogger(__name__)

Event = dict[str, Any]

TICKETS_TOPIC = "tickets"

_QUEUE_LIMIT = 1000
_PUBLISH_BATCH = 500

# What a subscriber reads in place of the events it was too slow to take: live screens
# then reload what they show (the way they do after losing the Redis bus).
GAP: Event = {"gap": True}


class EventBus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, *topics: str) -> Any:
        """An async context manager yielding an async iterator of events on these topics."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class _Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(_QUEUE_LIMIT)

    def offer(self, event: Event) -> None:
        # A subscriber too slow to keep up never blocks the publisher; it is told that it
        # missed events (GAP) instead of missing them silently.
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("an event subscriber fell %s events behind; it is told to reload",
                        _QUEUE_LIMIT)  # fmt: skip
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(GAP)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class InProcessEventBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[_Subscription]] = {}

    async def publish(self, topic: str, event: Event) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[_Subscription]:
        subscription = _Subscription()
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            for topic in topics:
                self._subscribers.get(topic, set()).discard(subscription)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()


class RedisEventBus:
    """Pub/sub across nodes. Channel names are prefixed so one Redis can serve several installs."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        if prefix is None:
            # Pub/sub ignores the database number, so it goes into the channel names:
            # installs on redis://…/1 and redis://…/2 must not hear each other.
            db = self._redis.connection_pool.connection_kwargs.get("db", 0)
            prefix = f"walletdesk:{db}:"
        self._prefix = prefix
        self._outgoing: list[tuple[str, str, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def publish(self, topic: str, event: Event) -> None:
        """Send an event; returns once Redis has taken it (or raises why it could not).

        A busy node publishes hundreds of events a second from as many tasks. Each taking
        a pooled connection of its own ran the pool dry ("Too many connections", a chat
        message refused) and cost a round trip apiece; instead one sender writes whatever
        queued meanwhile as one pipeline, in the order published.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A caller that went away never reads its error; mark it read so it isn't logged.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._outgoing.append((self._prefix + topic, json.dumps(event, default=str), future))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send())
        await asyncio.shield(future)

    async def _send(self) -> None:
        while self._outgoing:
            batch = self._outgoing[:_PUBLISH_BATCH]
            del self._outgoing[:_PUBLISH_BATCH]
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, data, _ in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[Event]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*(self._prefix + topic for topic in topics))

        async def events() -> AsyncIterator[Event]:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    yield json.loads(message["data"])
                except (ValueError, TypeError):
                    log.warning("dropped a malformed event on %s", message.get("channel"))

        try:
            yield events()
        finally:
            with suppress(Exception):
                await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._sender is not None:
            with suppress(Exception):
                await self._sender  # what was published before closing still goes out
        await self._redis.aclose()


def make_event_bus(redis_url: str) -> EventBus:
    return RedisEventBus(redis_url) if redis_url else InProcessEventBus()


def emit(session: AsyncSession, topic: str, event: Event) -> None:
    """Queue an event to go out on the session's bus once its transaction has committed."""
    bus: EventBus | None = session.info.get("bus")
    if bus is None:
        return

    async def send() -> None:
        await bus.publish(topic, event)

    after_commit(session, send)
