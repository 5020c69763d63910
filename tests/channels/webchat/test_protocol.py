"""The customer protocol against a real server: hello, acks, resend after a drop, ordering."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.channels.webchat.conftest import ChatServer, SiteInfo, customer, open_customer
from walletdesk.channels.webchat import events
from walletdesk.channels.webchat.models import Conversation
from walletdesk.core.events import InProcessEventBus
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.db import Database
from walletdesk.security.shield import shield_text


async def _messages_of(db: Database, conversation: str) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Message.body_text)
            .where(
                Message.channel == "webchat",
                Message.external_id.startswith(conversation + ":"),
            )
            .order_by(Message.id)
        )
        return list(rows)


async def test_first_message_opens_a_ticket_and_is_acked(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(chat, site, locale="zh-CN")
    assert welcome["status"] == "new"
    assert welcome["ticket"] is None
    assert welcome["history"] == []
    assert welcome["verified"] is False
    assert welcome["token"]

    await client.send(type="message", id="m-1", text="我的转账一直显示处理中")
    ack = await client.expect("ack", id="m-1")
    assert ack["duplicate"] is False
    assert ack["ticket"] and ack["ticket"].isdigit()

    async with db.transaction() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == ack["ticket"]))
        assert ticket is not None
        assert (ticket.channel, ticket.thread_key) == ("webchat", welcome["conversation"])
        assert ticket.locale == "zh-CN"
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == welcome["conversation"])
        )
        assert conversation is not None
        assert (conversation.status, conversation.ticket_id) == ("waiting", ticket.id)
    await client.close()


async def test_resend_after_a_dropped_connection_is_stored_once(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="a", text="第一条")
    first = await client.expect("ack", id="a")
    # The second leaves, and the network drops before its ack can come back.
    await client.send(type="message", id="b", text="第二条")
    assert client.ws.transport is not None
    client.ws.transport.abort()

    again, rewelcome = await customer(
        chat, site, token=welcome["token"], last_seen_id=first["message_id"]
    )
    assert rewelcome["conversation"] == welcome["conversation"]
    assert rewelcome["ticket"] == first["ticket"]
    # The client resends everything not acknowledged, and also (harmlessly) an acked one.
    await again.send(type="message", id="b", text="第二条")
    await again.send(type="message", id="a", text="第一条")
    second = await again.expect("ack", id="b")
    repeat = await again.expect("ack", id="a")
    assert repeat["message_id"] == first["message_id"]
    assert repeat["duplicate"] is True
    assert second["message_id"] > first["message_id"]

    assert await _messages_of(db, welcome["conversation"]) == ["第一条", "第二条"]

    third, history = await customer(chat, site, token=rewelcome["token"])
    assert [m["text"] for m in history["history"]] == ["第一条", "第二条"]
    assert [m["client_id"] for m in history["history"]] == ["a", "b"]
    await again.close()
    await third.close()


async def test_messages_keep_their_order(chat: ChatServer, site: SiteInfo, db: Database) -> None:
    client, welcome = await customer(chat, site)
    texts = [f"消息 {i}" for i in range(15)]
    for i, text in enumerate(texts):
        await client.send(type="message", id=f"o{i}", text=text)
    acks = [await client.expect("ack", id=f"o{i}") for i in range(len(texts))]
    ids = [ack["message_id"] for ack in acks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert await _messages_of(db, welcome["conversation"]) == texts
    await client.close()


async def test_a_second_tab_sees_the_first_tabs_messages(chat: ChatServer, site: SiteInfo) -> None:
    first, welcome = await customer(chat, site)
    second, _ = await customer(chat, site, token=welcome["token"])
    await first.send(type="message", id="t1", text="从第一个标签页发出")
    ack = await first.expect("ack", id="t1")
    seen = await second.expect_message("从第一个标签页发出")
    assert seen["message"]["id"] == ack["message_id"]
    assert seen["message"]["client_id"] == "t1"
    await asyncio.gather(first.close(), second.close())


async def test_what_is_stored_and_shown_is_the_shielded_text(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    original = "我的卡号是 4111 1111 1111 1111，付款失败"
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="s1", text=original)
    ack = await client.expect("ack", id="s1")
    # The ack names the kept text only when the shield changed it.
    kept = ack.get("text", original)
    assert kept == shield_text(original).text
    assert await _messages_of(db, welcome["conversation"]) == [kept]
    await client.close()


async def test_history_on_request_and_over_http(chat: ChatServer, site: SiteInfo) -> None:
    import httpx

    client, welcome = await customer(chat, site)
    await client.send(type="message", id="h1", text="一")
    one = await client.expect("ack", id="h1")
    await client.send(type="message", id="h2", text="二")
    await client.expect("ack", id="h2")
    await client.send(type="history", after=one["message_id"])
    history = await client.expect("history")
    assert [m["text"] for m in history["messages"]] == ["二"]
    async with httpx.AsyncClient(base_url=chat.url) as http:
        answer = await http.get(
            "/webchat/api/history",
            params={"token": welcome["token"], "after": 0},
            headers={"Origin": "http://wallet.test"},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://wallet.test"
        assert [m["text"] for m in answer.json()["messages"]] == ["一", "二"]
        forged = await http.get("/webchat/api/history", params={"token": "x" + welcome["token"]})
        assert forged.status_code == 403
    await client.close()


async def test_customer_who_ends_can_rate_once_and_restart(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="e1", text="算了，我自己再试试")
    await client.expect("ack", id="e1")
    await client.send(type="end")
    ended = await client.expect("ended")
    assert ended["by"] == "customer"
    await client.send(type="message", id="e2", text="还在吗")
    refused = await client.expect("error", ref="e2")
    assert refused["code"] == "conversation_ended"
    await client.send(type="rate", score=4, comment="<b>快</b>")
    rated = await client.expect("rated")
    assert (rated["score"], rated["comment"]) == (4, "<b>快</b>")
    await client.send(type="rate", score=5)
    assert (await client.expect("error"))["code"] == "conflict"

    await client.send(type="restart")
    fresh = await client.expect("welcome")
    assert fresh["conversation"] != welcome["conversation"]
    assert fresh["status"] == "new" and fresh["history"] == []
    await client.send(type="message", id="e2", text="还在吗")
    ack = await client.expect("ack", id="e2")
    assert ack["ticket"] != (await _ticket_of(db, welcome["conversation"]))
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.public_id.in_([welcome["conversation"], fresh["conversation"]]))
        )
    assert count == 2
    await client.close()


async def _ticket_of(db: Database, conversation: str) -> str | None:
    async with db.transaction() as session:
        return await session.scalar(
            select(Ticket.number)
            .join(Conversation, Conversation.ticket_id == Ticket.id)
            .where(Conversation.public_id == conversation)
        )


async def test_hello_must_come_first(chat: ChatServer, site: SiteInfo) -> None:
    client = await open_customer(chat, site, send_hello=False)
    await client.send(type="message", id="x", text="hi")
    error = await client.expect("error")
    assert (error["code"], error["fatal"]) == ("hello_required", True)
    assert await client.closed() == 4400


async def test_a_node_that_fell_behind_its_events_tells_clients_to_resync(
    chat: ChatServer, site: SiteInfo
) -> None:
    bus = chat.runtime.bus
    if not isinstance(bus, InProcessEventBus):
        pytest.skip("the in-process bus's backlog limit; Redis resubscribes instead")
    client, _ = await customer(chat, site)
    # More events than the hub's backlog holds, published without yielding to its reader.
    for n in range(1_100):
        await bus.publish(events.TOPIC, {"k": "noise", "n": n})
    await client.expect("resync")
    await client.close()
