"""Queue position, estimated wait from live figures, availability, business hours."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.channels.webchat.conftest import ChatServer, customer, make_site, online_agent
from tests.conftest import make_agent
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.queue import QueueFigures, queue_figures
from walletdesk.channels.webchat.sites import parse_business_hours, within_hours
from walletdesk.core.errors import InvalidInput
from walletdesk.db import Database

Serve = Callable[..., Awaitable[ChatServer]]


def test_estimated_wait_formula() -> None:
    figures = QueueFigures(
        tier=1,
        waiting=("a", "b", "c", "d"),
        agents_online=2,
        active_chats=3,
        handle_seconds=240.0,
        chats_per_agent=2,
    )
    # capacity 4, one free slot: the first waits for nobody, the rest for a share of 240 s.
    assert [figures.position(p) for p in "abcd"] == [1, 2, 3, 4]
    assert [figures.eta_seconds(i) for i in (1, 2, 3, 4)] == [0, 60, 120, 180]
    nobody = QueueFigures(1, ("a",), 0, 0, 240.0, 2)
    assert nobody.eta_seconds(1) is None
    assert nobody.frame("a") == {
        "type": "queue",
        "position": 1,
        "eta_seconds": None,
        "agents_online": 0,
    }


async def test_positions_and_waits_update_live(serve_chat: Serve, db: Database) -> None:
    # Chats other tests left waiting stop counting once their customers are 3 s quiet:
    # otherwise one could drop out between the figures read here and the frames pushed.
    chat = await serve_chat(
        chats_per_agent=1, default_handle_seconds=120, customer_recent_seconds=3.0
    )
    await asyncio.sleep(3.5)
    settings = chat.app.state.webchat_settings
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    customers = []
    for i in range(3):
        client, welcome = await customer(chat, site)
        assert welcome["online"] is True
        await client.send(type="message", id="q", text=f"排队 {i}")
        await client.expect("ack", id="q")
        customers.append((client, welcome["conversation"]))

    async def figures() -> QueueFigures:
        async with db.transaction() as session:
            return await queue_figures(session, 1, settings)

    # Other tests' chats may wait in the same queue: expect what the live figures say.
    now = await figures()
    first = now.position(customers[0][1])
    assert first is not None
    assert [now.position(pid) for _, pid in customers] == [first, first + 1, first + 2]
    assert now.agents_online >= 1
    for client, pid in customers:
        await client.expect("queue", **_expected(now, pid))

    await agent.send(type="accept", conversation=customers[0][1])
    await agent.expect("conversation")
    after = await figures()
    assert after.position(customers[0][1]) is None
    assert [after.position(pid) for _, pid in customers[1:]] == [first, first + 1]
    for client, pid in customers[1:]:
        await client.expect("queue", **_expected(after, pid))
    for client, _ in customers:
        await client.close()
    await agent.close()


def _expected(figures: QueueFigures, pid: str) -> dict[str, object]:
    frame = figures.frame(pid)
    return {"position": frame["position"], "eta_seconds": frame["eta_seconds"]}


async def test_availability_follows_agent_presence(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat()
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    client, welcome = await customer(chat, site)
    assert welcome["online"] is False  # nobody online: the widget offers to leave a message
    agent, _ = await online_agent(chat, login)
    assert (await client.expect("availability"))["online"] is True
    await agent.send(type="presence", presence="away")
    await agent.expect("presence", presence="away")
    assert (await client.expect("availability"))["online"] is False
    await agent.send(type="presence", presence="online")
    assert (await client.expect("availability"))["online"] is True
    await agent.close()  # the agent's browser goes away: no longer counted
    assert (await client.expect("availability"))["online"] is False
    await client.close()


async def test_outside_business_hours_the_widget_is_offline(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat()
    now = datetime.now(UTC)
    # A one-minute window that closed an hour ago, every day.
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now - timedelta(minutes=59)).strftime("%H:%M")
    site = await make_site(db, business_hours=parse_business_hours(f"1-7 {start}-{end} UTC"))
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site)
    assert (welcome["open"], welcome["online"]) == (False, False)
    await client.close()
    await agent.close()


def test_business_hours() -> None:
    hours = parse_business_hours("1-5 09:00-18:00 Asia/Shanghai")
    assert hours == {
        "timezone": "Asia/Shanghai",
        "days": [1, 2, 3, 4, 5],
        "open": "09:00",
        "close": "18:00",
    }
    # Wednesday 2026-11-25 10:00 in Shanghai is 02:00 UTC.
    assert within_hours(hours, datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    assert not within_hours(hours, datetime(2026, 11, 25, 10, 0, tzinfo=UTC))  # 18:00 local
    assert not within_hours(hours, datetime(2026, 11, 28, 2, 0, tzinfo=UTC))  # Saturday
    night = parse_business_hours("1-7 22:00-06:00 UTC")
    assert within_hours(night, datetime(2026, 11, 25, 23, 0, tzinfo=UTC))
    assert within_hours(night, datetime(2026, 11, 25, 5, 59, tzinfo=UTC))
    assert not within_hours(night, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    assert within_hours(None)
    for bad in ("weekdays", "1-5 9-18 UTC", "1-5 09:00-18:00 Mars/Olympus", "5-1 09:00-18:00 UTC"):
        with pytest.raises(InvalidInput):
            parse_business_hours(bad)


def test_absence_windows_must_outlast_the_heartbeat() -> None:
    # Customers and agents are marked seen once a heartbeat: a shorter window would take
    # people who are there for gone, so such settings stop the node at start.
    for bad in (
        {"heartbeat_seconds": 20.0, "agent_gone_grace_seconds": 20.0},
        {"heartbeat_seconds": 20.0, "customer_recent_seconds": 10.0},
        {"customer_recent_seconds": 90.0, "customer_abandon_seconds": 60.0},
    ):
        with pytest.raises(ValidationError):
            WebchatSettings(_env_file=None, **bad)  # type: ignore[call-arg]
    fine = {"heartbeat_seconds": 1.0, "agent_gone_grace_seconds": 3.0}
    assert WebchatSettings(_env_file=None, **fine).agent_gone_grace_seconds == 3.0  # type: ignore[call-arg]
