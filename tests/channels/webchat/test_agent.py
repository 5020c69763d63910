"""The agent side: new chats live, accept, chat both ways, typing, reads, transfer, end, rating."""

from __future__ import annotations

from sqlalchemy import func, select
from websockets.asyncio.client import connect

from tests.channels.webchat.conftest import (
    WAIT,
    ChatServer,
    Client,
    SiteInfo,
    customer,
    online_agent,
    open_agent,
    sign_in_cookie,
)
from tests.conftest import make_agent
from walletdesk.channels.webchat.models import Conversation
from walletdesk.core.actors import SYSTEM
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import DeliveryStatus, Message, Status, Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.db import Database
from walletdesk.runtime import outbox_handlers


async def _waiting_chat(chat: ChatServer, site: SiteInfo, text: str) -> tuple[Client, dict, dict]:
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="first", text=text)
    ack = await client.expect("ack", id="first")
    return client, welcome, ack


async def test_agent_sees_the_chat_accepts_and_both_sides_talk(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, hello = await online_agent(chat, login)
    assert hello["agent"]["id"] == login.agent.id

    client, welcome, ack = await _waiting_chat(chat, site, "付款失败了，钱扣了")
    pid = welcome["conversation"]
    waiting = await agent.expect("chat_waiting")
    assert waiting["chat"]["conversation"] == pid
    assert waiting["chat"]["ticket"] == ack["ticket"]
    assert waiting["chat"]["subject"] == "付款失败了，钱扣了"

    await agent.send(type="accept", conversation=pid)
    opened = await agent.expect("conversation")
    assert [m["text"] for m in opened["messages"]] == ["付款失败了，钱扣了"]
    status = await client.expect("status")
    assert (status["status"], status["agent"]) == ("active", login.agent.name)

    # typing both ways
    await client.send(type="typing", active=True)
    assert (await agent.expect("typing"))["by"] == "customer"
    await agent.send(type="typing", conversation=pid, active=True)
    typing = await client.expect("typing")
    assert (typing["by"], typing["name"]) == ("agent", login.agent.name)

    # agent → customer, with a resend of the same client id stored once
    await agent.send(type="message", conversation=pid, id="r1", text="您好，请提供订单号")
    reply_ack = await agent.expect("ack", id="r1")
    got = await client.expect_message("您好，请提供订单号")
    assert got["message"]["id"] == reply_ack["message_id"]
    assert got["message"]["author"] == "agent"
    assert got["message"]["name"] == login.agent.name
    await agent.send(type="message", conversation=pid, id="r1", text="您好，请提供订单号")
    again = await agent.expect("ack", id="r1")
    assert (again["message_id"], again["duplicate"]) == (reply_ack["message_id"], True)

    # customer → agent
    await client.send(type="message", id="c2", text="订单号 20261126001")
    c2 = await client.expect("ack", id="c2")
    seen = await agent.expect_message("订单号 20261126001")
    assert seen["message"]["id"] == c2["message_id"]

    # read receipts both ways, and delivery from the customer's client
    await client.send(type="delivered", up_to=reply_ack["message_id"])
    assert (await agent.expect("delivered"))["up_to"] == reply_ack["message_id"]
    await client.send(type="read", up_to=reply_ack["message_id"])
    read = await agent.expect("read", by="customer")
    assert read["up_to"] == reply_ack["message_id"]
    await agent.send(type="read", conversation=pid, up_to=c2["message_id"])
    assert (await client.expect("read"))["up_to"] == c2["message_id"]

    async with db.transaction() as session:
        replies = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.ticket_id
                == select(Ticket.id).where(Ticket.number == ack["ticket"]).scalar_subquery(),
                Message.author_kind == "agent",
            )
        )
        jobs = await session.scalar(
            select(func.count())
            .select_from(OutboxJob)
            .where(OutboxJob.idempotency_key == f"message:{reply_ack['message_id']}")
        )
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == pid)
        )
        assert conversation is not None
        assert (conversation.customer_read_id, conversation.agent_read_id) == (
            reply_ack["message_id"],
            c2["message_id"],
        )
    assert (replies, jobs) == (1, 1)

    # the agent ends; the customer is offered a rating
    await agent.send(type="end", conversation=pid)
    await agent.expect("done", action="end")
    ended = await client.expect("ended")
    assert (ended["by"], ended["ticket"]) == ("agent", ack["ticket"])
    await client.send(type="rate", score=5, comment="很快就解决了")
    rated = await agent.expect("rated")
    assert (rated["score"], rated["comment"]) == (5, "很快就解决了")
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        assert (ticket.status, ticket.assignee_id) == (Status.SOLVED, login.agent.id)
    await client.close()
    await agent.close()


async def test_follow_up_keeps_the_ticket_open(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome, ack = await _waiting_chat(chat, site, "需要查一下银行流水")
    await agent.send(type="accept", conversation=welcome["conversation"])
    await agent.expect("conversation")
    await agent.send(type="end", conversation=welcome["conversation"], follow_up=True)
    assert (await client.expect("ended"))["follow_up"] is True
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        assert ticket.status == Status.OPEN
    await client.close()
    await agent.close()


async def test_only_one_agent_can_accept(chat: ChatServer, site: SiteInfo, db: Database) -> None:
    first_login = await make_agent(db, "agent", 1)
    second_login = await make_agent(db, "agent", 1)
    first, _ = await online_agent(chat, first_login)
    second, _ = await online_agent(chat, second_login)
    client, welcome, _ack = await _waiting_chat(chat, site, "有人吗")
    pid = welcome["conversation"]
    await first.send(type="accept", conversation=pid)
    await first.expect("conversation")
    taken = await second.expect("chat_taken")
    assert taken["agent_id"] == first_login.agent.id
    await second.send(type="accept", conversation=pid)
    assert (await second.expect("error"))["code"] == "conflict"
    await second.send(type="open", conversation=pid)
    await second.expect("conversation")
    await second.send(type="message", conversation=pid, id="z", text="我来")
    assert (await second.expect("error", ref="z"))["code"] == "forbidden"
    for c in (client, first, second):
        await c.close()


async def test_transfer_to_a_colleague_and_escalate_to_l2(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    a_login = await make_agent(db, "agent", 1)
    b_login = await make_agent(db, "agent", 1)
    l2_login = await make_agent(db, "agent", 2)
    a, _ = await online_agent(chat, a_login)
    b, _ = await online_agent(chat, b_login)
    l2, _ = await online_agent(chat, l2_login)
    client, welcome, ack = await _waiting_chat(chat, site, "要改绑银行卡")
    pid = welcome["conversation"]
    await a.send(type="accept", conversation=pid)
    await a.expect("conversation")
    await client.expect("status", status="active")

    await a.send(type="agents")
    listed = {x["id"]: x for x in (await a.expect("agents"))["agents"]}
    assert listed[b_login.agent.id]["presence"] == "online"
    assert l2_login.agent.id not in listed  # another tier's agents are not offered

    await a.send(type="transfer", conversation=pid, to_agent=b_login.agent.id)
    await a.expect("done", action="transfer")
    assigned = await b.expect("assigned")
    assert assigned["chat"]["conversation"] == pid
    moved = await client.expect("status", status="active", agent=b_login.agent.name)
    assert moved["agent_id"] == b_login.agent.id
    # b now holds it and is watching it without opening it
    await client.send(type="message", id="c2", text="换人了吗")
    await b.expect_message("换人了吗")

    await b.send(type="transfer", conversation=pid, escalate=True, reason="需要 L2 核实身份")
    await b.expect("done", action="transfer")
    queued = await client.expect("status", status="waiting")
    assert queued["tier"] == 2
    waiting = await l2.expect("chat_waiting")
    assert waiting["chat"]["conversation"] == pid and waiting["chat"]["tier"] == 2
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, ack["ticket"])
        assert (ticket.tier, ticket.assignee_id) == (2, None)
    for c in (client, a, b, l2):
        await c.close()


async def test_a_customer_who_was_away_gets_the_replies_on_return(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome, ack = await _waiting_chat(chat, site, "我先离开一下")
    pid = welcome["conversation"]
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await client.close()
    for i in range(2):
        await agent.send(type="message", conversation=pid, id=f"away{i}", text=f"回复 {i}")
        await agent.expect("ack", id=f"away{i}")
    back, rewelcome = await customer(
        chat, site, token=welcome["token"], last_seen_id=ack["message_id"]
    )
    assert [m["text"] for m in rewelcome["history"]] == ["回复 0", "回复 1"]
    assert rewelcome["status"] == "active" and rewelcome["agent"] == login.agent.name
    await back.close()
    await agent.close()


async def test_reply_from_the_ticket_page_reaches_the_chat_through_the_outbox(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    client, _welcome, ack = await _waiting_chat(chat, site, "邮件里说不清")
    async with db.transaction() as session:
        ticket = await get_ticket(session, login.actor, ack["ticket"], for_update=True)
        reply = await post_agent_message(
            session, login.actor, ticket, body="已为您加急处理", internal=False
        )
        reply_id = reply.id
    worker = OutboxWorker(db, outbox_handlers(chat.runtime))
    assert await worker.run_once() >= 1
    got = await client.expect_message("已为您加急处理")
    assert got["message"]["id"] == reply_id
    async with db.transaction() as session:
        delivered = await session.get(Message, reply_id)
        assert delivered is not None and delivered.delivery_status == DeliveryStatus.SENT
    await client.close()


async def test_agent_socket_needs_a_sign_in(chat: ChatServer, db: Database) -> None:
    ws = await connect(f"{chat.ws_url}/console/chat/ws", compression=None, open_timeout=WAIT)
    nobody = Client(ws)
    assert (await nobody.expect("error"))["code"] == "unauthorized"
    assert await nobody.closed() == 4401
    ws = await connect(
        f"{chat.ws_url}/console/chat/ws",
        additional_headers={"Authorization": "Bearer wdk_not_a_token"},
        compression=None,
        open_timeout=WAIT,
    )
    assert await Client(ws).closed() == 4401


async def test_agent_socket_with_the_console_session(chat: ChatServer, db: Database) -> None:
    login = await make_agent(db, "agent", 1)
    cookies = await sign_in_cookie(chat, login)
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    # Same origin: accepted.
    ws = await connect(
        f"{chat.ws_url}/console/chat/ws",
        origin=chat.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        compression=None,
        open_timeout=WAIT,
    )
    agent = Client(ws)
    assert (await agent.expect("hello"))["agent"]["id"] == login.agent.id
    await agent.close()
    # Another site riding the cookie: refused.
    ws = await connect(
        f"{chat.ws_url}/console/chat/ws",
        origin="http://evil.test",  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        compression=None,
        open_timeout=WAIT,
    )
    assert await Client(ws).closed() == 4401


async def test_agents_list_shows_waiting_and_held_chats(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    l2_login = await make_agent(db, "agent", 2)
    one, w1, _ = await _waiting_chat(chat, site, "一号")
    two, w2, _ = await _waiting_chat(chat, site, "二号")
    agent, _ = await online_agent(chat, login)
    await agent.send(type="accept", conversation=w1["conversation"])
    await agent.expect("conversation")
    await agent.close()
    again, hello = await open_agent(chat, login)
    assert [c["conversation"] for c in hello["mine"]] == [w1["conversation"]]
    assert w2["conversation"] in [c["conversation"] for c in hello["waiting"]]
    l2, l2_hello = await open_agent(chat, l2_login)
    assert w2["conversation"] not in [c["conversation"] for c in l2_hello["waiting"]]
    await l2.send(type="open", conversation=w2["conversation"])
    assert (await l2.expect("error"))["code"] == "forbidden"
    for c in (one, two, again, l2):
        await c.close()


async def test_read_receipts_stop_at_the_newest_message(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome, ack = await _waiting_chat(chat, site, "看到了吗")
    pid = welcome["conversation"]
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await agent.send(type="message", conversation=pid, id="r1", text="看到了")
    reply = (await agent.expect("ack", id="r1"))["message_id"]
    await client.expect_message("看到了")

    # Ids ahead of what was sent: each side's marker stops at the newest message.
    await client.send(type="read", up_to=reply + 1000)
    assert (await agent.expect("read", by="customer"))["up_to"] == reply
    await agent.send(type="read", conversation=pid, up_to=ack["message_id"] + 1000)
    assert (await client.expect("read", by="agent"))["up_to"] == reply

    # So a message sent later is not shown as read before anyone saw it.
    await client.send(type="message", id="c2", text="还有一个问题")
    later = (await client.expect("ack", id="c2"))["message_id"]
    await agent.expect_message("还有一个问题")
    async with db.transaction() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == pid)
        )
        assert conversation is not None
        assert (conversation.customer_read_id, conversation.agent_read_id) == (reply, reply)
        assert conversation.agent_read_id < later
    await client.close()
    await agent.close()
