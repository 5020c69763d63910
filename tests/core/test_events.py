"""The event bus: in-process and Redis, and events that exist only once their change committed."""

from __future__ import annotations

import asyncio
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_ticket, unique
from walletdesk.app import create_app
from walletdesk.core.actors import SYSTEM
from walletdesk.core.events import (
    GAP,
    TICKETS_TOPIC,
    Event,
    InProcessEventBus,
    RedisEventBus,
    make_event_bus,
)
from walletdesk.core.tickets import queries, service
from walletdesk.core.tickets.models import Status
from walletdesk.db import Database
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings

# Long enough for a slow machine to start a Python process; an event normally takes ~1 ms.
PATIENCE = 60.0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _next(events: AsyncIterator[Event], number: str | None = None) -> Event:
    """The next event (about ticket `number`, if given); events of other tests are skipped."""

    async def wait() -> Event:
        async for event in events:
            if number is None or event.get("number") == number:
                return event
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(wait(), PATIENCE)


async def _change_status(db: Database, number: str, status: str, *, fail: bool = False) -> None:
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, SYSTEM, number, for_update=True)
        await service.update_ticket(session, SYSTEM, ticket, service.TicketChanges(status=status))
        if fail:
            raise RuntimeError("something after the change failed")


async def test_in_process_bus_delivers_to_subscribers_of_the_topic() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("a", "b") as both, bus.subscribe("b") as only_b:
        await bus.publish("a", {"n": 1})
        await bus.publish("b", {"n": 2})
        await bus.publish("c", {"n": 3})
        assert [await _next(aiter(both)), await _next(aiter(both))] == [{"n": 1}, {"n": 2}]
        assert await _next(aiter(only_b)) == {"n": 2}
        assert both.queue.empty() and only_b.queue.empty()
    # Leaving the block unsubscribes: nothing is kept for a listener that went away.
    await bus.publish("a", {"n": 4})
    assert both.queue.empty()
    await bus.ping()
    await bus.close()


async def test_a_slow_subscriber_is_told_what_it_missed_and_never_blocks_the_publisher() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t") as slow:
        for n in range(1_005):
            await bus.publish("t", {"n": n})
        # The backlog is replaced by one GAP (the subscriber reloads), then events go on.
        assert slow.queue.qsize() == 5
        assert await _next(aiter(slow)) == GAP
        assert [await _next(aiter(slow)) for _ in range(4)] == [{"n": n} for n in range(1001, 1005)]


def test_the_bus_is_in_process_unless_redis_is_configured() -> None:
    assert isinstance(make_event_bus(""), InProcessEventBus)
    assert isinstance(make_event_bus("redis://127.0.0.1:6379/3"), RedisEventBus)


async def test_a_ticket_event_goes_out_only_after_commit(runtime: Runtime) -> None:
    opened = await make_ticket(runtime.db)
    async with runtime.bus.subscribe(TICKETS_TOPIC) as events:
        async with runtime.db.transaction() as session:
            ticket = await queries.get_ticket(
                session, SYSTEM, opened.ticket_number, for_update=True
            )
            await service.update_ticket(
                session, SYSTEM, ticket, service.TicketChanges(status=Status.OPEN)
            )
            await asyncio.sleep(0)
            assert events.queue.empty()  # committed nothing yet, so told nothing yet
        event = await _next(aiter(events), opened.ticket_number)
        assert event["type"] == "ticket.updated" and event["status"] == Status.OPEN
        assert event["ticket_id"] == opened.ticket_id


async def test_a_rolled_back_change_publishes_nothing(runtime: Runtime) -> None:
    opened = await make_ticket(runtime.db)
    async with runtime.bus.subscribe(TICKETS_TOPIC) as events:
        with pytest.raises(RuntimeError):
            await _change_status(runtime.db, opened.ticket_number, Status.PENDING, fail=True)
        assert events.queue.empty()
        await _change_status(runtime.db, opened.ticket_number, Status.ON_HOLD)
        event = await _next(aiter(events), opened.ticket_number)
        assert event["status"] == Status.ON_HOLD


async def test_an_unreachable_bus_never_undoes_a_committed_change(db_url: str) -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{closed_port()}/0")
    db = Database(db_url, bus=bus)
    try:
        opened = await make_ticket(db)
        await _change_status(db, opened.ticket_number, Status.SOLVED)
        async with db.transaction() as session:
            ticket = await queries.get_ticket(session, SYSTEM, opened.ticket_number)
            assert ticket.status == Status.SOLVED
    finally:
        await db.dispose()
        await bus.close()


@pytest.fixture
async def redis_bus(redis_url: str) -> AsyncIterator[RedisEventBus]:
    bus = RedisEventBus(redis_url)
    yield bus
    await bus.close()


async def _listening(bus: RedisEventBus, events: AsyncIterator[Event]) -> None:
    """Return once the subscription is live on the server: our own marker came back."""
    marker = unique("marker")
    await bus.publish(TICKETS_TOPIC, {"type": "test.marker", "number": marker})
    await _next(events, marker)


async def test_redis_bus_round_trip(redis_bus: RedisEventBus) -> None:
    await redis_bus.ping()
    async with redis_bus.subscribe(TICKETS_TOPIC, "other") as events:
        await _listening(redis_bus, events)
        number = unique("n")
        await redis_bus.publish("other", {"number": number, "text": "转账", "n": 1})
        assert await _next(events, number) == {"number": number, "text": "转账", "n": 1}


async def test_a_burst_of_publishes_beyond_the_pool_all_arrive_in_order(
    redis_bus: RedisEventBus,
) -> None:
    # 100 is the Redis client's default connection pool: one connection per publish ran
    # it dry under a chat node's load and refused a customer's message.
    burst = 600
    async with redis_bus.subscribe(TICKETS_TOPIC, "burst") as events:
        await _listening(redis_bus, events)
        tag = unique("b")
        await asyncio.gather(
            *(redis_bus.publish("burst", {"tag": tag, "n": n}) for n in range(burst))
        )
        received: list[int] = []
        async with asyncio.timeout(10):
            async for event in events:
                if event.get("tag") == tag:
                    received.append(event["n"])
                    if len(received) == burst:
                        break
    assert received == list(range(burst))


async def test_redis_databases_are_separate_installs(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    here, there = RedisEventBus(f"{base}/4"), RedisEventBus(f"{base}/5")
    try:
        async with here.subscribe(TICKETS_TOPIC) as events:
            await _listening(here, events)
            stray, mine = unique("stray"), unique("mine")
            await there.publish(TICKETS_TOPIC, {"number": stray})
            await here.publish(TICKETS_TOPIC, {"number": mine})
            assert (await _next(events))["number"] == mine
    finally:
        await here.close()
        await there.close()


OTHER_NODE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path

    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.tickets import queries, service
    from walletdesk.runtime import build_runtime
    from walletdesk.settings import Settings


    async def change(runtime, number, status, fail=False):
        async with runtime.db.transaction() as session:
            ticket = await queries.get_ticket(session, SYSTEM, number, for_update=True)
            changes = service.TicketChanges(status=status)
            await service.update_ticket(session, SYSTEM, ticket, changes)
            if fail:
                raise RuntimeError("rolled back")


    async def main(db_url, redis_url, data_dir, number):
        settings = Settings(
            database_url=db_url, redis_url=redis_url, data_dir=Path(data_dir), _env_file=None
        )
        runtime = build_runtime(settings)
        try:
            try:
                await change(runtime, number, "pending", fail=True)
            except RuntimeError:
                pass
            await change(runtime, number, "on_hold")
        finally:
            await runtime.close()


    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_change_on_another_node_reaches_this_one_through_redis(
    runtime: Runtime, redis_bus: RedisEventBus, redis_url: str, tmp_path: Path
) -> None:
    opened = await make_ticket(runtime.db)
    async with redis_bus.subscribe(TICKETS_TOPIC) as events:
        await _listening(redis_bus, events)
        node = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OTHER_NODE,
            runtime.db.url,
            redis_url,
            str(tmp_path / "other-node"),
            opened.ticket_number,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(node.communicate(), PATIENCE)
        assert node.returncode == 0, stderr.decode()
        event = await _next(events, opened.ticket_number)
    # The other node's rolled-back change to pending was never announced.
    assert (event["type"], event["status"]) == ("ticket.updated", Status.ON_HOLD)
    assert event["ticket_id"] == opened.ticket_id


async def test_readyz_checks_redis_when_configured(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    for url, expected in [(redis_url, 200), (f"redis://127.0.0.1:{closed_port()}/0", 503)]:
        settings = Settings(
            data_dir=tmp_path,
            database_url=db_url,
            redis_url=url,
            embedded_worker=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/readyz")
        await app.state.runtime.close()
        body: dict[str, Any] = answer.json()
        assert answer.status_code == expected, body
        assert body["checks"]["database"] == "ok"
        if expected == 200:
            assert body == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
        else:
            assert body["status"] == "not ready"
            assert body["checks"]["redis"].startswith("unreachable")
