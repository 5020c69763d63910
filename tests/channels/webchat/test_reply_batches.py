"""Agents' replies written many to a transaction: each answered on its own, each stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from tests.channels.webchat.conftest import ChatServer, SiteInfo, customer, online_agent
from tests.conftest import AgentLogin, make_agent
from walletdesk.channels.webchat.hubs import hub_of
from walletdesk.channels.webchat.replies import Reply, ReplyDraft, post_replies
from walletdesk.core.errors import NotFound, PermissionDenied
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import DeliveryStatus, Message, Ticket
from walletdesk.runtime import outbox_handlers


async def _accepted_chat(chat: ChatServer, site: SiteInfo, login: AgentLogin) -> str:
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site, locale="zh-CN")
    pid = str(welcome["conversation"])
    await client.send(type="message", id="c1", text="提现失败了")
    await client.expect("ack", id="c1")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await agent.close()
    await client.close()
    return pid


async def test_each_reply_in_a_batch_gets_its_own_answer(
    chat: ChatServer, site: SiteInfo, l1_agent: AgentLogin
) -> None:
    pid = await _accepted_chat(chat, site, l1_agent)
    stranger = await make_agent(chat.runtime.db)
    me = l1_agent.actor
    drafts = [
        ReplyDraft(me, pid, "a1", "您好，请稍等"),
        ReplyDraft(stranger.actor, pid, "x1", "不是我的对话"),
        ReplyDraft(me, "no-such-chat", "a2", "找不到"),
        ReplyDraft(me, pid, "a1", "您好，请稍等"),  # a resend overtaking its ack
        ReplyDraft(me, pid, "a3", "已经处理好了"),
    ]
    async with chat.runtime.db.transaction() as session:
        results = await post_replies(session, drafts)
    first, refused, missing, resend, last = results
    assert isinstance(first, Reply) and not first.duplicate
    assert isinstance(refused, PermissionDenied)
    assert isinstance(missing, NotFound)
    assert resend == Reply(first.message_id, duplicate=True)
    assert isinstance(last, Reply) and not last.duplicate
    async with chat.runtime.db.transaction() as session:
        texts = list(
            await session.scalars(
                select(Message.body_text)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Ticket.thread_key == pid, Message.author_kind == "agent")
                .order_by(Message.id)
            )
        )
        ticket = await session.scalar(select(Ticket).where(Ticket.thread_key == pid))
    assert texts == ["您好，请稍等", "已经处理好了"]
    assert ticket is not None and ticket.status == "open" and ticket.first_response_at


async def test_a_burst_of_replies_arrives_once_each_in_order(
    chat: ChatServer, site: SiteInfo, l1_agent: AgentLogin
) -> None:
    agent, _ = await online_agent(chat, l1_agent)
    client, welcome = await customer(chat, site, locale="en")
    pid = welcome["conversation"]
    await client.send(type="message", id="c1", text="my card payment failed")
    await client.expect("ack", id="c1")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    texts = [f"step {i}" for i in range(30)]
    await asyncio.gather(
        *(
            agent.send(type="message", conversation=pid, id=f"a{i}", text=text)
            for i, text in enumerate(texts)
        )
    )
    acks = [await agent.expect("ack", id=f"a{i}") for i in range(30)]
    assert len({ack["message_id"] for ack in acks}) == 30
    seen = [(await client.expect_message(text))["message"]["id"] for text in texts]
    assert seen == sorted(seen)  # stored in the order the agent sent them
    await agent.close()
    await client.close()
    async with chat.runtime.db.transaction() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Message)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.thread_key == pid, Message.author_kind == "agent")
        )
    assert stored == 30


async def _reply_and_wait(chat: ChatServer, site: SiteInfo, login: AgentLogin) -> int:
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site, locale="zh-CN")
    pid = welcome["conversation"]
    await client.send(type="message", id="c1", text="账户被冻结了")
    await client.expect("ack", id="c1")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await agent.send(type="message", conversation=pid, id="a1", text="正在为您查询")
    message_id = int((await agent.expect("ack", id="a1"))["message_id"])
    await client.expect_message("正在为您查询")
    await agent.close()
    await client.close()
    return message_id


async def _delivery(chat: ChatServer, message_id: int) -> tuple[str | None, str | None]:
    async with chat.runtime.db.transaction() as session:
        status = await session.scalar(
            select(Message.delivery_status).where(Message.id == message_id)
        )
        job = await session.scalar(
            select(OutboxJob.status).where(OutboxJob.idempotency_key == f"message:{message_id}")
        )
    return status, job


async def test_a_reply_pushed_live_needs_no_worker(
    chat: ChatServer, site: SiteInfo, l1_agent: AgentLogin
) -> None:
    message_id = await _reply_and_wait(chat, site, l1_agent)
    for _ in range(100):  # the node settles right after the batch, beside the next one
        if await _delivery(chat, message_id) == (DeliveryStatus.SENT, OutboxStatus.DONE):
            break
        await asyncio.sleep(0.05)
    assert await _delivery(chat, message_id) == (DeliveryStatus.SENT, OutboxStatus.DONE)


async def test_the_worker_delivers_a_reply_its_node_did_not_settle(
    serve_chat: Callable[..., Awaitable[ChatServer]],
    site: SiteInfo,
    l1_agent: AgentLogin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = await serve_chat(live_delivery_grace_seconds=0.3)

    async def node_died(*_: object) -> None:
        raise RuntimeError("the node went away before settling")

    monkeypatch.setattr(hub_of(chat.app).replies, "then", node_died)
    message_id = await _reply_and_wait(chat, site, l1_agent)
    assert await _delivery(chat, message_id) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    worker = OutboxWorker(chat.runtime.db, outbox_handlers(chat.runtime))
    await worker.run_once()  # within the node's grace: not this reply's turn yet
    assert await _delivery(chat, message_id) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    await asyncio.sleep(0.4)
    for _ in range(50):  # other tests' jobs may share the database and come first
        await worker.run_once()
        if (await _delivery(chat, message_id))[1] == OutboxStatus.DONE:
            break
    assert await _delivery(chat, message_id) == (DeliveryStatus.SENT, OutboxStatus.DONE)
