"""Live events over a real uvicorn server: the stream is read as a browser's EventSource would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import REDIS_URL, make_agent, require_service, unique
from tests.console.conftest import LiveServer, escalate_to, open_ticket, sign_in
from walletdesk.core.events import RedisEventBus
from walletdesk.db import Database


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, object]]:
    kind = ""
    async for line in lines:
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:") and kind == "ticket":
            yield json.loads(line.removeprefix("data:"))


async def test_an_agent_hears_about_changes_in_their_tier(
    live_server: LiveServer, db: Database
) -> None:
    agent = await make_agent(db, "agent", 1)
    elsewhere = await open_ticket(db)
    await escalate_to(db, elsewhere.ticket_number, 2)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        await sign_in(client, agent)
        async with client.stream("GET", "/console/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith("retry:")  # the stream is open
            await escalate_to(db, elsewhere.ticket_number, 3)  # L2 → L3: not for an L1 agent
            mine = await open_ticket(db, subject="live event")
            async with asyncio.timeout(10):
                first = await anext(_events(lines))
    assert first == {
        "type": "ticket.created",
        "number": mine.ticket_number,
        "status": "new",
        "tier": 1,
    }


async def test_the_stream_needs_a_session(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        response = await client.get("/console/events")
    assert response.status_code == 401


@pytest.mark.redis
async def test_heartbeats_and_the_redis_bus(live_server: LiveServer, db: Database) -> None:
    """Across nodes the bus is Redis; idle streams get heartbeat comments."""
    url = require_service(REDIS_URL, "WALLETDESK_TEST_REDIS_URL")
    supervisor = await make_agent(db, "supervisor", 1)
    runtime = live_server.runtime
    in_process = runtime.bus
    redis_bus = RedisEventBus(url, prefix=f"{unique('console-test')}:")
    runtime.bus = db.bus = redis_bus
    live_server.app.state.console_heartbeat_seconds = 0.2
    try:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
            await sign_in(client, supervisor)
            async with client.stream("GET", "/console/events") as stream:
                lines = stream.aiter_lines()
                async with asyncio.timeout(10):
                    assert (await anext(lines)).startswith("retry:")
                    while await anext(lines) != ": heartbeat":
                        pass
                    ticket = await open_ticket(db)
                    event = await anext(_events(lines))
    finally:
        runtime.bus = db.bus = in_process
        await redis_bus.close()
    assert event["number"] == ticket.ticket_number
