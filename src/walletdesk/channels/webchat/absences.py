"""Absences, swept by every node's hub at each heartbeat.

Chats of an agent gone longer than a grace (no chat client seen on any node) go back to the
queue; a waiting chat whose customer stayed away becomes a follow-up ticket. The sweeps read
the shared database only, and lock each chat (skipping one another node holds), so any
number of nodes may run them at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat import events
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.history import CHANNEL, message_frame
from walletdesk.channels.webchat.models import AgentHeartbeat, Conversation, ConversationStatus
from walletdesk.channels.webchat.service import announce_waiting, finish_chat, locked_ticket
from walletdesk.channels.webchat.views import chat_summaries
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.models import Agent
from walletdesk.core.tickets.models import AuthorKind, Message
from walletdesk.core.tickets.service import TicketChanges, update_ticket
from walletdesk.db import utcnow

# At most this many chats per sweep of gone agents or customers (the next sweep goes on).
SWEEP_BATCH = 100

# What a customer reads when their agent's connection is lost for good: in the chat's
# language, or both when it is not known.
BACK_IN_QUEUE = {
    "zh-CN": "为您服务的客服连接中断了。您已回到排队中，下一位有空的客服会接着为您处理，"
    "之前的对话都保留着。",
    "en": "The agent who was helping you lost their connection. You are back in the queue: "
    "the next available agent will take over, and everything said so far is kept.",
}


def back_in_queue_text(locale: str | None) -> str:
    if locale in BACK_IN_QUEUE:
        return BACK_IN_QUEUE[locale]
    return BACK_IN_QUEUE["zh-CN"] + "\n" + BACK_IN_QUEUE["en"]


def _span(seconds: float) -> tuple[str, str]:
    """A duration for a note, in Chinese and English."""
    if seconds >= 120:
        minutes = round(seconds / 60)
        return f"{minutes} 分钟", f"{minutes} min"
    return f"{round(seconds)} 秒", f"{round(seconds)} s"


async def chats_of_gone_agents(session: AsyncSession, settings: WebchatSettings) -> list[str]:
    """Active chats whose agent has had no chat client seen within the grace, on any node.

    A chat taken within the grace is left alone: taking it was a sign of life (an agent may
    accept through the API and open the panel a moment later).
    """
    cutoff = utcnow() - timedelta(seconds=settings.agent_gone_grace_seconds)
    seen = select(AgentHeartbeat.agent_id).where(AgentHeartbeat.seen_at >= cutoff)
    rows = await session.scalars(
        select(Conversation.public_id)
        .where(
            Conversation.status == ConversationStatus.ACTIVE,
            Conversation.agent_id.is_not(None),
            Conversation.accepted_at < cutoff,
            Conversation.agent_id.not_in(seen),
        )
        .order_by(Conversation.id)
        .limit(SWEEP_BATCH)
    )
    return list(rows.all())


async def requeue_from_gone_agent(
    session: AsyncSession, public_id: str, settings: WebchatSettings
) -> bool:
    """Put an active chat whose agent is gone back in its tier's queue; False if it no longer
    applies (the agent came back, another node did it, the chat moved on).

    The ticket keeps its number, messages and tier and goes back to nobody; the chat keeps
    its place in the queue (queued_at), the customer is told in their language, and an
    internal note says what happened. Locks the chat, then the ticket; skips a chat another
    node has locked.
    """
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.public_id == public_id)
        .with_for_update(skip_locked=True)
    )
    grace = settings.agent_gone_grace_seconds
    cutoff = utcnow() - timedelta(seconds=grace)
    if (
        conversation is None
        or conversation.status != ConversationStatus.ACTIVE
        or conversation.agent_id is None
        or (conversation.accepted_at is not None and conversation.accepted_at >= cutoff)
    ):
        return False
    agent_id = conversation.agent_id
    if await session.scalar(
        select(AgentHeartbeat.agent_id)
        .where(AgentHeartbeat.agent_id == agent_id, AgentHeartbeat.seen_at >= cutoff)
        .limit(1)
    ):
        return False
    ticket = await locked_ticket(session, SYSTEM, conversation)
    name = await session.scalar(select(Agent.name).where(Agent.id == agent_id)) or "?"
    if ticket.assignee_id == agent_id:
        await update_ticket(session, SYSTEM, ticket, TicketChanges(assignee_id=None))
    conversation.status = ConversationStatus.WAITING
    conversation.agent_id = None
    conversation.accepted_at = None
    now = utcnow()
    zh, en = _span(grace)
    tier = conversation.tier
    note = Message(
        ticket_id=ticket.id,
        author_kind=AuthorKind.SYSTEM,
        channel=CHANNEL,
        internal=True,
        body_text=(
            f"{name} 的聊天连接中断超过 {zh}，对话已回到 L{tier} 排队 / "
            f"{name} was disconnected for over {en}: the chat went back to the L{tier} queue"
        ),
        created_at=now,
    )
    notice = Message(
        ticket_id=ticket.id,
        author_kind=AuthorKind.SYSTEM,
        channel=CHANNEL,
        internal=False,
        body_text=back_in_queue_text(conversation.locale),
        created_at=now,
    )
    session.add_all([note, notice])
    await session.flush()
    announce_waiting(session, public_id, tier)
    events.emit_chat(
        session,
        events.to_conversation(
            public_id,
            {
                "type": "message",
                "conversation": public_id,
                "message": message_frame(notice, conversation=public_id),
            },
        ),
    )
    recent = now - timedelta(seconds=settings.customer_recent_seconds)
    if conversation.last_seen_at is not None and conversation.last_seen_at >= recent:
        # Offered to the tier's agents only when the customer is still there to answer; one
        # who left counts in no queue and becomes a follow-up if they stay away.
        summary = (await chat_summaries(session, [conversation]))[0]
        events.emit_chat(session, events.to_tier(tier, {"type": "chat_waiting", "chat": summary}))
    events.emit_chat(session, events.queue_changed(tier))
    return True


async def abandoned_chats(session: AsyncSession, settings: WebchatSettings) -> list[str]:
    """Waiting chats whose customer has not been seen for `customer_abandon_seconds`."""
    cutoff = utcnow() - timedelta(seconds=settings.customer_abandon_seconds)
    rows = await session.scalars(
        select(Conversation.public_id)
        .where(
            Conversation.status == ConversationStatus.WAITING,
            Conversation.ticket_id.is_not(None),
            func.coalesce(Conversation.last_seen_at, Conversation.queued_at) < cutoff,
        )
        .order_by(Conversation.queued_at, Conversation.id)
        .limit(SWEEP_BATCH)
    )
    return list(rows.all())


async def end_abandoned(session: AsyncSession, public_id: str, settings: WebchatSettings) -> bool:
    """Turn a waiting chat whose customer left into a follow-up ticket, as an agent's "end,
    keep the ticket for a follow-up" does; False if it no longer applies.

    The ticket stays open in its tier's queue, answered by email (or a call) when the
    customer left an address; the customer sees the usual `ended` with `follow_up` when
    they come back, and an internal note says why. Skips a chat another node has locked.
    """
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.public_id == public_id)
        .with_for_update(skip_locked=True)
    )
    if conversation is None or conversation.status != ConversationStatus.WAITING:
        return False
    absence = settings.customer_abandon_seconds
    last_seen = conversation.last_seen_at or conversation.queued_at
    if last_seen >= utcnow() - timedelta(seconds=absence):
        return False  # the customer came back meanwhile
    ticket = await locked_ticket(session, SYSTEM, conversation)
    zh, en = _span(absence)
    session.add(
        Message(
            ticket_id=ticket.id,
            author_kind=AuthorKind.SYSTEM,
            channel=CHANNEL,
            internal=True,
            body_text=(
                f"客户离开排队已超过 {zh}，对话已转为跟进工单 / "
                f"The customer left the queue over {en} ago: the chat became a follow-up ticket"
            ),
            created_at=utcnow(),
        )
    )
    await finish_chat(session, conversation, ticket, by="system", follow_up=True)
    return True


async def forget_old_heartbeats(session: AsyncSession, settings: WebchatSettings) -> None:
    """Drop heartbeat rows too old to matter to availability or to the agents' grace."""
    horizon = settings.agent_gone_grace_seconds + settings.heartbeat_stale_seconds
    await session.execute(
        delete(AgentHeartbeat).where(AgentHeartbeat.seen_at < utcnow() - timedelta(seconds=horizon))
    )
