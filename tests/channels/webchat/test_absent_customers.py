"""Customers who leave the queue: not counted ahead of anyone, and after a long absence their
waiting chat becomes a follow-up ticket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from tests.channels.webchat.conftest import (
    ChatServer,
    Client,
    SiteInfo,
    customer,
    make_site,
    online_agent,
)
from tests.conftest import make_agent
from walletdesk.channels.webchat.models import Conversation
from walletdesk.channels.webchat.queue import QueueFigures, queue_figures
from walletdesk.core.actors import SYSTEM
from walletdesk.core.tickets.models import Message, Status
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.db import Database

Serve = Callable[..., Awaitable[ChatServer]]


async def _waiting_chat(
    chat: ChatServer, site: SiteInfo, text: str
) -> tuple[Client, dict[str, Any], dict[str, Any]]:
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="first", text=text)
    return client, welcome, await client.expect("ack", id="first")


async def _conversation(db: Database, pid: str) -> Conversation:
    async with db.transaction() as session:
        found = await session.scalar(select(Conversation).where(Conversation.public_id == pid))
    assert found is not None
    return found


async def test_a_customer_who_left_stops_counting_and_gets_their_place_back(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(customer_recent_seconds=3.0)
    settings = chat.app.state.webchat_settings
    site = await make_site(db)
    agent, _ = await online_agent(chat, await make_agent(db, "agent", 1))
    first, w1, _ = await _waiting_chat(chat, site, "第一个")
    second, w2, _ = await _waiting_chat(chat, site, "第二个")
    # Chats other tests left waiting drop out of the figures too: let them go first (ours
    # stay counted, their sockets being open).
    await asyncio.sleep(4)

    async def figures() -> QueueFigures:
        async with db.transaction() as session:
            return await queue_figures(session, 1, settings)

    now = await figures()
    ahead = now.position(w1["conversation"])
    assert ahead is not None and now.position(w2["conversation"]) == ahead + 1

    # The first customer closes the page. While the second stays connected (their chat is
    # marked seen every heartbeat), the first stops counting once not seen for 3 s, and
    # the second's widget is told its new place.
    await first.close()
    await second.expect("queue", position=ahead, seconds=20)
    later = await figures()
    assert later.position(w1["conversation"]) is None
    assert later.position(w2["conversation"]) == ahead
    # It is still waiting, with its ticket: only the figures leave it out.
    assert (await _conversation(db, w1["conversation"])).status == "waiting"

    # Back (a reload, a network that returns): counted again at once, in the place it had.
    back, again = await customer(chat, site, token=w1["token"])
    assert again["status"] == "waiting"
    assert again["queue"]["position"] == ahead
    await second.expect("queue", position=ahead + 1, seconds=20)
    for c in (back, second, agent):
        await c.close()


async def test_a_waiting_chat_whose_customer_stays_away_becomes_a_follow_up(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(customer_recent_seconds=2.0, customer_abandon_seconds=4.0)
    site = await make_site(db)
    agent, _ = await online_agent(chat, await make_agent(db, "agent", 1))
    gone, w_gone, ack = await _waiting_chat(chat, site, "我的卡被冻结了")
    await gone.send(type="contact", email="left.queue@example.com")
    assert (await gone.expect("contact_saved"))["answer_by"] == "email"
    staying, w_staying, _ = await _waiting_chat(chat, site, "我还在等")
    pid = w_gone["conversation"]

    await gone.close()
    while True:  # agents drop it from their waiting lists
        ended = await agent.expect("ended", seconds=20)
        if ended["conversation"] == pid:
            break
    assert (ended["follow_up"], ended["by"], ended["ticket"]) == (True, "system", ack["ticket"])
    assert ended["answer_by"] == "email"

    conversation = await _conversation(db, pid)
    assert (conversation.status, conversation.follow_up, conversation.ended_by) == (
        "ended",
        True,
        "system",
    )
    assert conversation.accepted_at is None  # never handled: not a handling time
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        assert ticket.status not in (Status.SOLVED, Status.CLOSED)  # open, to be answered
        notes = (
            await session.scalars(
                select(Message.body_text).where(
                    Message.ticket_id == ticket.id, Message.internal.is_(True)
                )
            )
        ).all()
    assert any("follow-up" in n for n in notes), notes

    # The customer who stayed connected is still waiting, well past the same time.
    await asyncio.sleep(1)
    assert (await _conversation(db, w_staying["conversation"])).status == "waiting"

    # Coming back later, the customer sees the chat ended as a follow-up by email.
    back, again = await customer(chat, site, token=w_gone["token"])
    assert (again["status"], again["follow_up"], again["answer_by"]) == ("ended", True, "email")
    assert again["ticket"] == ack["ticket"]
    for c in (back, staying, agent):
        await c.close()


async def test_marking_customers_seen_never_waits_for_a_chat_another_transaction_holds(
    chat: ChatServer, db: Database
) -> None:
    # Found by bench/chat.py: the heartbeat's one statement over hundreds of chats waited for
    # a row a transaction holding several chats (accepts, in the bench) had locked, while
    # that one waited for a row of the statement's: PostgreSQL's deadlock detector killed it.
    from datetime import UTC, datetime

    from sqlalchemy import update

    from walletdesk.channels.webchat.queue import mark_customers_seen

    site = await make_site(db)
    _, first, _ = await _waiting_chat(chat, site, "甲")
    _, second, _ = await _waiting_chat(chat, site, "乙")
    held, free = second["conversation"], first["conversation"]
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)

    def set_old(pid: str) -> Any:
        return (
            update(Conversation).where(Conversation.public_id == pid).values(last_seen_at=long_ago)
        )

    async with db.transaction() as session:
        await session.execute(set_old(free))
    if db.dialect == "postgresql":
        async with db.transaction() as holder:
            await holder.execute(set_old(held))  # row-locked until this transaction ends
            async with asyncio.timeout(5), db.transaction() as session:
                await mark_customers_seen(session, [free, held])
        assert (await _conversation(db, held)).last_seen_at == long_ago  # skipped, not awaited
    else:  # one writer at a time and no row locks: nothing to skip
        async with db.transaction() as session:
            await session.execute(set_old(held))
        async with db.transaction() as session:
            await mark_customers_seen(session, [free, held])
        assert (await _conversation(db, held)).last_seen_at != long_ago
    assert (await _conversation(db, free)).last_seen_at != long_ago
