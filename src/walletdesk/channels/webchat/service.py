"""Changing conversations: open on the first message, accept, reply, transfer, end, rate, read.

Functions take the caller's session and never commit. Those that change a conversation
an agent works on lock its row first (then the ticket's, through get_ticket), always in
that order, so two agents accepting or transferring at once cannot interleave. Live
events go out after the commit (events.emit_chat).

Routing follows presence: a chat is accepted only by an agent who is online and transferred
only to one who is available (queue.available_agents). What happens to the chats of agents
and customers who went away is absences.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat import events
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.history import CHANNEL, in_conversation
from walletdesk.channels.webchat.models import (
    Conversation,
    ConversationStatus,
    ConversationTicket,
)
from walletdesk.channels.webchat.protocol import ChatInvalid
from walletdesk.channels.webchat.queue import is_available
from walletdesk.channels.webchat.views import chat_summaries
from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent, Presence
from walletdesk.core.agents.service import set_presence
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.contacts.service import SenderIdentity, add_identity
from walletdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from walletdesk.core.tickets import queries
from walletdesk.core.tickets.models import Message, Status, Ticket
from walletdesk.core.tickets.service import (
    TicketChanges,
    assign_ticket,
    escalate_ticket,
    update_ticket,
)
from walletdesk.db import insert_ignoring_conflicts, utcnow


async def find(
    session: AsyncSession, public_id: str, *, for_update: bool = False
) -> Conversation | None:
    query = select(Conversation).where(Conversation.public_id == public_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def _require(session: AsyncSession, public_id: str) -> Conversation:
    conversation = await find(session, public_id, for_update=True)
    if conversation is None:
        raise NotFound(f"no conversation {public_id}")
    return conversation


async def locked_ticket(session: AsyncSession, actor: Actor, conversation: Conversation) -> Ticket:
    """The conversation's ticket, locked, if the actor may see it (404/403 otherwise)."""
    if conversation.ticket_id is None:
        raise NotFound("this conversation has no ticket yet")
    number = await session.scalar(select(Ticket.number).where(Ticket.id == conversation.ticket_id))
    if number is None:
        raise NotFound("the conversation's ticket no longer exists")
    return await queries.get_ticket(session, actor, number, for_update=True)


def check_handler(actor: Actor, conversation: Conversation) -> None:
    """Only the agent holding the chat speaks in it; supervisors and admins may step in."""
    if conversation.agent_id != actor.agent_id and not actor.sees_all_queues:
        if conversation.status == ConversationStatus.WAITING:
            raise InvalidInput("conversation", "accept the chat first")
        raise PermissionDenied("another agent holds this chat")


# --- customer side --------------------------------------------------------------------------


async def record_customer_ticket(
    session: AsyncSession,
    *,
    public_id: str,
    site_id: int,
    visitor: str,
    sender: SenderIdentity,
    locale: str | None,
    ticket_id: int,
) -> Conversation:
    """Make sure the conversation exists and knows the ticket its thread's message landed on.

    Runs after ingest() stored a customer message. A new conversation joins its tier's
    queue. A ticket that is not this thread's (the customer quoted another ticket number)
    is not linked: its other messages are not this chat's to show.
    """
    conversation = await find(session, public_id, for_update=True)
    if conversation is None:
        now = utcnow()
        await session.execute(
            insert_ignoring_conflicts(session, Conversation).values(
                public_id=public_id,
                site_id=site_id,
                visitor_id=visitor,
                identity_kind=sender.kind,
                identity_value=sender.value,
                verified=sender.verified,
                status=ConversationStatus.WAITING,
                tier=1,
                locale=locale,
                created_at=now,
                queued_at=now,
                last_seen_at=now,
                follow_up=False,
                customer_read_id=0,
                agent_read_id=0,
            )
        )
        conversation = await find(session, public_id, for_update=True)
        assert conversation is not None
    if conversation.ticket_id == ticket_id:
        return conversation
    owner = (
        await session.execute(
            select(Ticket.channel, Ticket.thread_key, Ticket.tier, Ticket.number).where(
                Ticket.id == ticket_id
            )
        )
    ).first()
    if owner is None or owner.channel != CHANNEL or owner.thread_key != public_id:
        return conversation
    await session.execute(
        insert_ignoring_conflicts(session, ConversationTicket).values(
            conversation_id=conversation.id, ticket_id=ticket_id
        )
    )
    first = conversation.ticket_id is None
    conversation.ticket_id = ticket_id
    conversation.tier = owner.tier
    await session.flush()
    if first:
        summary = (await chat_summaries(session, [conversation]))[0]
        events.emit_chat(
            session, events.to_tier(conversation.tier, {"type": "chat_waiting", "chat": summary})
        )
        events.emit_chat(session, events.queue_changed(conversation.tier))
    events.emit_chat(
        session,
        events.to_conversation(public_id, {"type": "ticket", "number": owner.number}, to="all"),
    )
    return conversation


async def end_by_customer(session: AsyncSession, public_id: str) -> Conversation:
    conversation = await _require(session, public_id)
    if conversation.status == ConversationStatus.ENDED:
        return conversation
    was_waiting = conversation.status == ConversationStatus.WAITING
    _end(conversation, by="customer", follow_up=False)
    await session.flush()
    frame = _ended_frame(conversation)
    events.emit_chat(session, events.to_conversation(public_id, frame))
    if was_waiting:  # off every agent's waiting list, not only the watchers'
        events.emit_chat(session, events.to_tier(conversation.tier, frame))
    events.emit_chat(session, events.queue_changed(conversation.tier))
    return conversation


async def rate(session: AsyncSession, public_id: str, score: int, comment: str) -> Conversation:
    if not 1 <= score <= 5:
        raise InvalidInput("score", "rate from 1 to 5")
    conversation = await _require(session, public_id)
    if conversation.status != ConversationStatus.ENDED:
        raise InvalidInput("conversation", "a chat is rated once it has ended")
    if conversation.rating is not None:
        raise Conflict("this chat has been rated already")
    conversation.rating = score
    conversation.rating_comment = comment.strip()[:2000] or None
    conversation.rated_at = utcnow()
    await session.flush()
    events.emit_chat(
        session,
        events.to_conversation(
            public_id,
            {
                "type": "rated",
                "conversation": public_id,
                "score": score,
                "comment": conversation.rating_comment or "",
            },
        ),
    )
    return conversation


async def answer_channel(session: AsyncSession, ticket_id: int | None) -> str | None:
    """How a reply after the chat reaches the customer: "email", "phone" or None (no way).

    Replies on an ended chat go out by email (adapter.py); with only a phone an agent has
    to call, and with neither the customer hears nothing unless they come back to the chat.
    """
    if ticket_id is None:
        return None
    kinds = set(
        await session.scalars(
            select(ContactIdentity.kind)
            .join(Ticket, Ticket.contact_id == ContactIdentity.contact_id)
            .where(Ticket.id == ticket_id, ContactIdentity.kind.in_(("email", "phone")))
        )
    )
    return "email" if "email" in kinds else "phone" if "phone" in kinds else None


async def add_contact_details(
    session: AsyncSession, conversation: Conversation, *, email: str, phone: str
) -> None:
    """An anonymous visitor gave an email or phone (unverified) to be answered on later."""
    if conversation.ticket_id is None:
        raise InvalidInput("conversation", "send a message first")
    contact_id = await session.scalar(
        select(Ticket.contact_id).where(Ticket.id == conversation.ticket_id)
    )
    if contact_id is None:
        raise NotFound("the conversation's ticket no longer exists")
    if email.strip():
        await add_identity(session, contact_id, "email", email)
    if phone.strip():
        await add_identity(session, contact_id, "phone", phone)


# --- both sides ------------------------------------------------------------------------------


async def mark_read(session: AsyncSession, public_id: str, *, by: str, up_to: int) -> bool:
    """Move the side's read marker forward (never back, never past the newest message);
    True if it moved."""
    conversation = await find(session, public_id)
    if conversation is None:
        return False
    newest = await session.scalar(select(func.max(Message.id)).where(in_conversation(conversation)))
    up_to = min(up_to, newest or 0)  # a client cannot mark what was not sent yet as read
    if up_to <= 0:
        return False
    column = Conversation.customer_read_id if by == "customer" else Conversation.agent_read_id
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, column < up_to)
        .values({column: up_to})
    )
    moved = bool(result.rowcount)  # type: ignore[attr-defined]
    if moved:
        events.emit_chat(
            session,
            events.to_conversation(
                public_id,
                {"type": "read", "conversation": public_id, "by": by, "up_to": up_to},
                to="agent" if by == "customer" else "customer",
            ),
        )
    return moved


# --- agent side ------------------------------------------------------------------------------


async def change_presence(
    session: AsyncSession, agent_id: int, tier: int, presence: str, *, origin: str | None = None
) -> None:
    """Store the agent's presence and, after the commit, tell every node: the agent's sockets
    (new-chat alerts go only to agents online) and the widgets of the tier's queue."""
    await set_presence(session, agent_id, presence)
    events.emit_chat(session, events.presence_changed(agent_id, tier, presence, origin))


async def accept(session: AsyncSession, actor: Actor, public_id: str) -> Conversation:
    """The actor takes a waiting chat; only while their presence is online."""
    if actor.agent_id is not None:
        presence = await session.scalar(select(Agent.presence).where(Agent.id == actor.agent_id))
        if presence != Presence.ONLINE:
            raise ChatInvalid(
                "not_online",
                "presence",
                f"your presence is {presence or 'offline'}: set it to online to accept chats",
            )
    conversation = await _require(session, public_id)
    ticket = await locked_ticket(session, actor, conversation)
    if conversation.status == ConversationStatus.ENDED:
        raise InvalidInput("conversation", "this chat has ended")
    if conversation.status == ConversationStatus.ACTIVE:
        if conversation.agent_id == actor.agent_id:
            return conversation
        raise Conflict("another agent accepted this chat first")
    if ticket.assignee_id != actor.agent_id:
        await assign_ticket(session, actor, ticket, actor.agent_id)
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent_id = actor.agent_id
    conversation.accepted_at = utcnow()
    await session.flush()
    _announce_assignment(session, conversation, actor.name)
    return conversation


async def transfer_to_agent(
    session: AsyncSession,
    actor: Actor,
    public_id: str,
    agent_id: int,
    settings: WebchatSettings,
) -> Conversation:
    """Hand the chat to a colleague who is available now (presence online, chat open)."""
    conversation = await _require(session, public_id)
    check_handler(actor, conversation)
    if conversation.status == ConversationStatus.ENDED:
        raise InvalidInput("conversation", "this chat has ended")
    ticket = await locked_ticket(session, actor, conversation)
    await assign_ticket(session, actor, ticket, agent_id)  # checks the agent works the tier
    name = await session.scalar(select(Agent.name).where(Agent.id == agent_id)) or ""
    if not await is_available(session, agent_id, settings):  # raising rolls the above back
        raise ChatInvalid(
            "agent_unavailable",
            "to_agent",
            f"{name} is not available for chats (offline, away, or without the console "
            "open): pick a colleague who is online",
        )
    if conversation.status == ConversationStatus.WAITING:
        conversation.accepted_at = utcnow()
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent_id = agent_id
    await session.flush()
    _announce_assignment(session, conversation, name)
    summary = (await chat_summaries(session, [conversation]))[0]
    events.emit_chat(
        session,
        events.to_agent(agent_id, {"type": "assigned", "chat": summary}, watch=public_id),
    )
    return conversation


async def escalate(
    session: AsyncSession, actor: Actor, public_id: str, reason: str
) -> Conversation:
    """Up one tier: the chat waits in that tier's queue, with the reason on the ticket."""
    conversation = await _require(session, public_id)
    check_handler(actor, conversation)
    if conversation.status == ConversationStatus.ENDED:
        raise InvalidInput("conversation", "this chat has ended")
    ticket = await locked_ticket(session, actor, conversation)
    old_tier = conversation.tier
    await escalate_ticket(session, actor, ticket, reason)
    conversation.tier = ticket.tier
    conversation.status = ConversationStatus.WAITING
    conversation.agent_id = None
    conversation.accepted_at = None
    conversation.queued_at = utcnow()
    await session.flush()
    summary = (await chat_summaries(session, [conversation]))[0]
    announce_waiting(session, public_id, conversation.tier)
    events.emit_chat(
        session, events.to_tier(conversation.tier, {"type": "chat_waiting", "chat": summary})
    )
    events.emit_chat(session, events.queue_changed(old_tier))
    events.emit_chat(session, events.queue_changed(conversation.tier))
    return conversation


async def end_by_agent(
    session: AsyncSession, actor: Actor, public_id: str, *, follow_up: bool
) -> Conversation:
    """End the chat: the ticket is solved, or stays open for a follow-up (by email)."""
    conversation = await _require(session, public_id)
    check_handler(actor, conversation)
    if conversation.status == ConversationStatus.ENDED:
        return conversation
    ticket = await locked_ticket(session, actor, conversation)
    if not follow_up and ticket.status not in (Status.SOLVED, Status.CLOSED):
        await update_ticket(session, actor, ticket, TicketChanges(status=Status.SOLVED))
    await finish_chat(session, conversation, ticket, by="agent", follow_up=follow_up)
    return conversation


async def finish_chat(
    session: AsyncSession,
    conversation: Conversation,
    ticket: Ticket,
    *,
    by: str,
    follow_up: bool,
) -> None:
    """End the (locked) chat and tell its customer and agents how it goes on."""
    was_waiting = conversation.status == ConversationStatus.WAITING
    _end(conversation, by=by, follow_up=follow_up)
    await session.flush()
    frame = _ended_frame(conversation)
    frame["ticket"] = ticket.number
    if follow_up:
        # The widget asks for an address when there is none, instead of promising an email.
        frame["answer_by"] = await answer_channel(session, ticket.id)
    events.emit_chat(session, events.to_conversation(conversation.public_id, frame))
    if was_waiting:
        events.emit_chat(session, events.to_tier(conversation.tier, frame))
    events.emit_chat(session, events.queue_changed(conversation.tier))


def _end(conversation: Conversation, *, by: str, follow_up: bool) -> None:
    was_waiting = conversation.status == ConversationStatus.WAITING
    conversation.status = ConversationStatus.ENDED
    conversation.ended_at = utcnow()
    conversation.ended_by = by
    conversation.follow_up = follow_up
    if was_waiting:  # never handled: must not count towards handling times
        conversation.accepted_at = None


def _ended_frame(conversation: Conversation) -> dict[str, Any]:
    return {
        "type": "ended",
        "conversation": conversation.public_id,
        "by": conversation.ended_by,
        "follow_up": conversation.follow_up,
    }


def _announce_assignment(session: AsyncSession, conversation: Conversation, name: str) -> None:
    pid = conversation.public_id
    events.emit_chat(
        session,
        events.to_conversation(
            pid,
            {
                "type": "status",
                "conversation": pid,
                "status": "active",
                "agent": name,
                "agent_id": conversation.agent_id,
                "tier": conversation.tier,
            },
        ),
    )
    events.emit_chat(
        session,
        events.to_tier(
            conversation.tier,
            {
                "type": "chat_taken",
                "conversation": pid,
                "agent_id": conversation.agent_id,
                "agent": name,
            },
        ),
    )
    events.emit_chat(session, events.queue_changed(conversation.tier))


def announce_waiting(session: AsyncSession, public_id: str, tier: int) -> None:
    """Tell the chat's customer (and its other sockets) that it waits in `tier`'s queue."""
    events.emit_chat(
        session,
        events.to_conversation(
            public_id,
            {
                "type": "status",
                "conversation": public_id,
                "status": "waiting",
                "agent": None,
                "tier": tier,
                "agent_id": None,
            },
        ),
    )
