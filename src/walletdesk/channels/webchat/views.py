"""What agents see of chats: list lines, their queues and chats, who to transfer to.

Read-only; every list is loaded in a fixed number of queries whatever its length.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.models import (
    Conversation,
    ConversationStatus,
    ConversationTicket,
)
from walletdesk.channels.webchat.queue import available_agents
from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.contacts.service import contact_names
from walletdesk.core.errors import NotFound
from walletdesk.core.tickets import queries
from walletdesk.core.tickets.models import Ticket


async def chat_summaries(
    session: AsyncSession, conversations: list[Conversation]
) -> list[dict[str, Any]]:
    """One line per chat for the agents' lists, loaded in three queries whatever the count."""
    ticket_ids = {c.ticket_id for c in conversations if c.ticket_id is not None}
    tickets: dict[int, Any] = {}
    if ticket_ids:
        rows = await session.execute(
            select(Ticket.id, Ticket.number, Ticket.subject, Ticket.contact_id).where(
                Ticket.id.in_(ticket_ids)
            )
        )
        tickets = {row.id: row for row in rows}
    names = await contact_names(session, {t.contact_id for t in tickets.values()})
    agent_ids = {c.agent_id for c in conversations if c.agent_id is not None}
    agents: dict[int, str] = {}
    if agent_ids:
        agents = {
            row[0]: row[1]
            for row in await session.execute(
                select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))
            )
        }
    out = []
    for c in conversations:
        ticket = tickets.get(c.ticket_id) if c.ticket_id is not None else None
        out.append(
            {
                "conversation": c.public_id,
                "ticket": ticket.number if ticket else None,
                "subject": ticket.subject if ticket else "",
                "customer": _display_name(c, names.get(ticket.contact_id, "") if ticket else ""),
                "visitor": c.visitor_id[:4],
                "verified": c.verified,
                "status": c.status,
                "tier": c.tier,
                "agent_id": c.agent_id,
                "agent": agents.get(c.agent_id, "") if c.agent_id is not None else "",
                "queued_at": c.queued_at.isoformat(),
                "customer_read_id": c.customer_read_id,
                "agent_read_id": c.agent_read_id,
                "rating": c.rating,
                "rating_comment": c.rating_comment,
                "ended_by": c.ended_by,
            }
        )
    return out


def _display_name(conversation: Conversation, name: str) -> str:
    """An anonymous visitor's only "name" is their random id: show none rather than that."""
    if conversation.identity_kind == "webchat" and name == conversation.identity_value:
        return ""
    return name


async def waiting_chats(session: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    """The chats waiting in the actor's queues, oldest first."""
    query = (
        select(Conversation)
        .where(
            Conversation.status == ConversationStatus.WAITING, Conversation.ticket_id.is_not(None)
        )
        .order_by(Conversation.queued_at, Conversation.id)
        .limit(200)
    )
    if not actor.sees_all_queues:
        query = query.where(Conversation.tier == actor.tier)
    return await chat_summaries(session, list((await session.scalars(query)).all()))


async def agent_lists(session: AsyncSession, actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The chats waiting in the actor's queues and the ones the actor holds."""
    mine = list(
        (
            await session.scalars(
                select(Conversation)
                .where(
                    Conversation.agent_id == actor.agent_id,
                    Conversation.status == ConversationStatus.ACTIVE,
                )
                .order_by(Conversation.accepted_at)
                .limit(200)
            )
        ).all()
    )
    return {
        "waiting": await waiting_chats(session, actor),
        "mine": await chat_summaries(session, mine),
    }


async def conversation_for_ticket(
    session: AsyncSession, actor: Actor, number: str
) -> Conversation | None:
    """The latest chat on a ticket the actor may see (for the ticket page's chat panel)."""
    ticket = await queries.get_ticket(session, actor, number)
    return await session.scalar(
        select(Conversation)
        .join(ConversationTicket, ConversationTicket.conversation_id == Conversation.id)
        .where(ConversationTicket.ticket_id == ticket.id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def may_watch(session: AsyncSession, actor: Actor, conversation: Conversation) -> None:
    """Raise unless the actor may see the conversation's ticket."""
    if conversation.ticket_id is None:
        raise NotFound("this conversation has no ticket yet")
    number = await session.scalar(select(Ticket.number).where(Ticket.id == conversation.ticket_id))
    if number is None:
        raise NotFound("the conversation's ticket no longer exists")
    await queries.get_ticket(session, actor, number)


async def online_agents(
    session: AsyncSession, actor: Actor, settings: WebchatSettings
) -> list[dict[str, Any]]:
    """Agents a chat may be transferred to: active, and in the actor's tier unless supervisor.

    `available` says whether a transfer to them would be taken now (presence online and a
    chat client connected: queue.available_agents); those come first.
    """
    query = select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.tier, Agent.name)
    if not actor.sees_all_queues:
        query = query.where(Agent.tier == actor.tier)
    rows = (await session.scalars(query.limit(500))).all()
    active = {
        row[0]: row[1]
        for row in await session.execute(
            select(Conversation.agent_id, func.count())
            .where(Conversation.status == ConversationStatus.ACTIVE)
            .group_by(Conversation.agent_id)
        )
    }
    ids = [a.id for a in rows]
    available = (
        set(await session.scalars(available_agents(settings).where(Agent.id.in_(ids))))
        if ids
        else set()
    )
    listed = [
        {
            "id": a.id,
            "name": a.name,
            "tier": a.tier,
            "role": a.role,
            "presence": a.presence,
            "available": a.id in available,
            "chats": int(active.get(a.id, 0)),
        }
        for a in rows
    ]
    return sorted(listed, key=lambda a: not a["available"])  # stable: tier, name within
