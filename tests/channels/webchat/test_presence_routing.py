"""Presence feeds routing: who may accept, who a chat is transferred to, who is alerted, and
what happens to the chats of an agent who is gone."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.channels.webchat.conftest import (
    ChatServer,
    Client,
    SiteInfo,
    customer,
    make_site,
    online_agent,
    open_agent,
    sign_in_cookie,
)
from tests.conftest import make_agent
from walletdesk.channels.webchat.absences import BACK_IN_QUEUE
from walletdesk.channels.webchat.models import AgentHeartbeat, Conversation
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.service import set_presence
from walletdesk.core.tickets.models import AuthorKind, Message
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.db import Database, utcnow

Serve = Callable[..., Awaitable[ChatServer]]


async def _waiting_chat(
    chat: ChatServer, site: SiteInfo, text: str, **hello: Any
) -> tuple[Client, dict[str, Any], dict[str, Any]]:
    client, welcome = await customer(chat, site, **hello)
    await client.send(type="message", id="first", text=text)
    return client, welcome, await client.expect("ack", id="first")


async def _offered(agent: Client, pid: str) -> dict[str, Any]:
    """The chat_waiting for this conversation (others' chats may be offered first)."""
    while True:
        frame = await agent.expect("chat_waiting")
        if frame["chat"]["conversation"] == pid:
            return frame


async def _settled(client: Client) -> None:
    """Everything the server queued for this socket before now has been read."""
    await client.send(type="ping")
    await client.expect("pong")


async def _refused(agent: Client, code: str) -> dict[str, Any]:
    error = await agent.expect("error")
    assert error["code"] == code, error
    return error


async def test_only_an_agent_who_is_online_accepts(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, hello = await open_agent(chat, login)
    assert hello["agent"]["presence"] == "offline"
    client, welcome, _ = await _waiting_chat(chat, site, "有人在吗")
    pid = welcome["conversation"]

    await agent.send(type="accept", conversation=pid)
    error = await _refused(agent, "not_online")
    assert error["field"] == "presence"
    await agent.send(type="presence", presence="away")
    await agent.expect("presence", presence="away")
    await agent.send(type="accept", conversation=pid)
    await _refused(agent, "not_online")
    async with db.transaction() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == pid)
        )
        assert conversation is not None
        assert (conversation.status, conversation.agent_id) == ("waiting", None)

    await agent.send(type="presence", presence="online")
    await agent.expect("presence", presence="online")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await client.expect("status", status="active", agent=login.agent.name)
    await client.close()
    await agent.close()


async def test_a_chat_is_transferred_only_to_a_colleague_who_is_available(
    serve_chat: Serve, db: Database
) -> None:
    # Heartbeats far apart, so the test decides when a client was last heard from.
    chat = await serve_chat(heartbeat_seconds=30.0)
    settings = chat.app.state.webchat_settings
    site = await make_site(db)
    a_login = await make_agent(db, "agent", 1)
    b_login = await make_agent(db, "agent", 1)
    a, _ = await online_agent(chat, a_login)
    client, welcome, ack = await _waiting_chat(chat, site, "要转人工")
    pid = welcome["conversation"]
    await a.send(type="accept", conversation=pid)
    await a.expect("conversation")
    await client.expect("status", status="active")

    async def transfer() -> None:
        await a.send(type="transfer", conversation=pid, to_agent=b_login.agent.id)

    # b has never opened the console: offline, no chat client.
    await transfer()
    error = await _refused(a, "agent_unavailable")
    assert error["field"] == "to_agent" and b_login.agent.name in error["message"]
    # Online by their setting, but no chat client anywhere: still not there.
    async with db.transaction() as session:
        await set_presence(session, b_login.agent.id, "online")
    await transfer()
    await _refused(a, "agent_unavailable")
    # A chat client, but away.
    b, _ = await open_agent(chat, b_login)
    await b.send(type="presence", presence="away")
    await b.expect("presence", presence="away")
    await a.send(type="agents")
    listed = {x["id"]: x for x in (await a.expect("agents"))["agents"]}
    assert (listed[b_login.agent.id]["presence"], listed[b_login.agent.id]["available"]) == (
        "away",
        False,
    )
    await transfer()
    await _refused(a, "agent_unavailable")
    # Online, but their client has not been heard from for longer than the stale limit
    # (its node died): the same rule as the queue's count of available agents.
    await b.send(type="presence", presence="online")
    await b.expect("presence", presence="online")
    stale = utcnow() - timedelta(seconds=settings.heartbeat_stale_seconds + 5)
    async with db.transaction() as session:
        await session.execute(
            update(AgentHeartbeat)
            .where(AgentHeartbeat.agent_id == b_login.agent.id)
            .values(seen_at=stale)
        )
    await transfer()
    await _refused(a, "agent_unavailable")
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        assert ticket.assignee_id == a_login.agent.id  # every refusal left it as it was
        await session.execute(
            update(AgentHeartbeat)
            .where(AgentHeartbeat.agent_id == b_login.agent.id)
            .values(seen_at=utcnow())
        )

    await a.send(type="agents")
    listed = {x["id"]: x for x in (await a.expect("agents"))["agents"]}
    assert listed[b_login.agent.id]["available"] is True
    await transfer()
    await a.expect("done", action="transfer")
    assert (await b.expect("assigned"))["chat"]["conversation"] == pid
    await client.expect("status", status="active", agent=b_login.agent.name)
    for c in (client, a, b):
        await c.close()


async def test_new_chats_are_offered_to_agents_online_only(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    on_login = await make_agent(db, "agent", 1)
    away_login = await make_agent(db, "agent", 1)
    on, _ = await online_agent(chat, on_login)
    away, _ = await open_agent(chat, away_login)
    await away.send(type="presence", presence="away")
    await away.expect("presence", presence="away")

    client, welcome, _ = await _waiting_chat(chat, site, "新对话")
    pid = welcome["conversation"]
    await _offered(on, pid)
    # Both sockets are on this node and were handed the event together: what `away` would
    # have been sent is ahead of its pong.
    await _settled(away)
    assert not any(
        f.get("type") == "chat_waiting" and f["chat"]["conversation"] == pid for f in away.mailbox
    )

    # Coming online, the agent is sent fresh lists, with the chat that arrived meanwhile.
    await away.send(type="presence", presence="online")
    await away.expect("presence", presence="online")
    again = await away.expect("hello")
    assert again["agent"]["presence"] == "online"
    assert pid in [c["conversation"] for c in again["waiting"]]
    # And from now on it is alerted.
    other, other_welcome, _ = await _waiting_chat(chat, site, "又一个")
    await _offered(away, other_welcome["conversation"])
    for c in (client, other, on, away):
        await c.close()


async def test_presence_set_on_the_settings_page_reaches_widgets_and_sockets_at_once(
    serve_chat: Serve, db: Database
) -> None:
    # No periodic refresh within the test: only the presence event can tell the widget.
    chat = await serve_chat(queue_refresh_seconds=300.0)
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    cookies = await sign_in_cookie(chat, login)  # signing in sets the presence online
    agent, hello = await open_agent(chat, login)
    assert hello["agent"]["presence"] == "online"
    client, welcome = await customer(chat, site)
    assert welcome["online"] is True

    async with httpx.AsyncClient(base_url=chat.url, cookies=cookies) as browser:
        page = await browser.get("/console/me")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text

        async def choose(presence: str) -> None:
            response = await browser.post(
                "/console/me/presence",
                data={"csrf": found.group(1), "presence": presence, "back": "/console/me"},
            )
            assert response.status_code == 303, response.text

        await choose("away")
        assert (await client.expect("availability", seconds=5))["online"] is False
        await agent.expect("presence", presence="away", seconds=5)
        await choose("online")
        assert (await client.expect("availability", seconds=5))["online"] is True
        await agent.expect("presence", presence="online", seconds=5)
    await client.close()
    await agent.close()


async def test_the_chats_of_an_agent_gone_too_long_go_back_to_the_queue(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(agent_gone_grace_seconds=3.0)
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    colleague_login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome, ack = await _waiting_chat(chat, site, "转账失败了", locale="zh-CN")
    pid = welcome["conversation"]
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await client.expect("status", status="active")
    await agent.send(type="message", conversation=pid, id="r1", text="请稍等，我查一下")
    await agent.expect("ack", id="r1")
    await client.expect_message("请稍等，我查一下")
    colleague, _ = await online_agent(chat, colleague_login)

    await agent.close()  # the browser is gone, and stays gone
    status = await client.expect("status", status="waiting", seconds=20)
    assert (status["agent"], status["tier"]) == (None, 1)
    notice = await client.expect_message(BACK_IN_QUEUE["zh-CN"])
    assert notice["message"]["author"] == "system"
    offered = await _offered(colleague, pid)
    assert offered["chat"]["ticket"] == ack["ticket"]

    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == pid)
        )
        assert conversation is not None
        assert (conversation.status, conversation.agent_id) == ("waiting", None)
        assert ticket.assignee_id is None
        messages = (
            await session.scalars(
                select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
            )
        ).all()
    public = [(m.author_kind, m.body_text) for m in messages if not m.internal]
    assert public == [
        (AuthorKind.CUSTOMER, "转账失败了"),
        (AuthorKind.AGENT, "请稍等，我查一下"),
        (AuthorKind.SYSTEM, BACK_IN_QUEUE["zh-CN"]),
    ]
    notes = [m.body_text for m in messages if m.internal]
    assert any(login.agent.name in n and "L1" in n for n in notes), notes

    # A colleague takes it over with the whole history.
    await colleague.send(type="accept", conversation=pid)
    opened = await colleague.expect("conversation")
    assert [m["text"] for m in opened["messages"]][:2] == ["转账失败了", "请稍等，我查一下"]
    await client.expect("status", status="active", agent=colleague_login.agent.name)
    await client.close()
    await colleague.close()


async def test_an_agent_back_within_the_grace_keeps_their_chats(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(agent_gone_grace_seconds=4.0)
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome, _ = await _waiting_chat(chat, site, "网络不太好", locale="en")
    pid = welcome["conversation"]
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await client.expect("status", status="active")

    await agent.close()
    await asyncio.sleep(1)
    back, hello = await open_agent(chat, login)  # a reload: the same agent, a new socket
    assert [c["conversation"] for c in hello["mine"]] == [pid]
    await asyncio.sleep(6)  # past the grace, counted from when the first socket went
    await _settled(client)
    assert not any(f.get("type") == "status" for f in client.mailbox), client.mailbox
    async with db.transaction() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == pid)
        )
        assert conversation is not None
        assert (conversation.status, conversation.agent_id) == ("active", login.agent.id)
    await client.close()
    await back.close()


async def test_a_chat_taken_within_the_grace_is_not_counted_gone(
    chat: ChatServer, db: Database
) -> None:
    # Taking a chat is a sign of life: one accepted through the API, the panel not yet open,
    # stays with its agent until the grace has run from the moment it was taken.
    from walletdesk.channels.webchat.absences import chats_of_gone_agents
    from walletdesk.channels.webchat.service import accept
    from walletdesk.core.agents.models import Agent
    from walletdesk.core.agents.service import actor_for

    settings = chat.app.state.webchat_settings
    site = await make_site(db)
    login = await make_agent(db, "agent", 1)
    _, welcome, _ = await _waiting_chat(chat, site, "我的提现还没到")
    pid = welcome["conversation"]
    async with db.transaction() as session:
        await set_presence(session, login.agent.id, "online")
        agent = await session.get(Agent, login.agent.id)
        assert agent is not None
        await accept(session, actor_for(agent), pid)  # no chat client: no heartbeat at all
    async with db.transaction() as session:
        assert pid not in await chats_of_gone_agents(session, settings)
        long_ago = utcnow() - timedelta(seconds=settings.agent_gone_grace_seconds + 60)
        await session.execute(
            update(Conversation).where(Conversation.public_id == pid).values(accepted_at=long_ago)
        )
        # In the same transaction: the node's own sweep (every second here) cannot take it
        # back to the queue in between.
        assert pid in await chats_of_gone_agents(session, settings)
