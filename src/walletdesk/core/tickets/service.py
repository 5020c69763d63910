"""Changing tickets: open, reply, note, update, assign, tag, escalate.

Every function takes the caller's session and never commits (the request or job
boundary does). Functions that change an existing ticket lock its row first, so two
agents acting at once cannot interleave a status check with its update.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent, Role
from walletdesk.core.agents.service import team_for_tier
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput, NotFound, PermissionDenied
from walletdesk.core.events import TICKETS_TOPIC, emit
from walletdesk.core.outbox.service import OutboxEntry, enqueue_many
from walletdesk.core.tickets import lifecycle
from walletdesk.core.tickets.models import (
    MESSAGES,
    TIERS,
    AuthorKind,
    Category,
    DeliveryStatus,
    Message,
    MessageRow,
    Priority,
    Status,
    Ticket,
)
from walletdesk.core.tickets.tags import set_tags
from walletdesk.db import utcnow

log = logging.getLogger(__name__)

DELIVER_MESSAGE = "deliver_message"


def delivery_job_key(message_id: int) -> str:
    """The outbox key of a reply's delivery job: one job per reply, whoever enqueues it."""
    return f"message:{message_id}"


def ticket_event(kind: str, ticket: Ticket | Row[Any], **extra: Any) -> dict[str, Any]:
    """A ticket's live event; `extra` may override a field (a status changed meanwhile)."""
    return {
        "type": kind,
        "ticket_id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "tier": ticket.tier,
        "assignee_id": ticket.assignee_id,
        **extra,
    }


@dataclass(frozen=True, slots=True)
class AgentMessageDraft:
    """An agent's reply or note for a ticket the caller has locked."""

    actor: Actor
    ticket: Ticket
    body: str
    internal: bool = False
    html: str | None = None
    status: str | None = None
    # Seconds the outbox waits before delivering: a live chat delivers the reply itself
    # right after the commit and settles the job; the worker is the fallback.
    deliver_after: float = 0.0


# The table, not the mapped class: the ORM's bulk INSERT … RETURNING entity machinery cost
# more CPU than the statement itself. Rows come back in the order of the parameters.
_POST_AGENT_MESSAGES = insert(MESSAGES).returning(*MESSAGES.c, sort_by_parameter_order=True)


async def post_agent_message(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    *,
    body: str,
    internal: bool,
    html: str | None = None,
    status: str | None = None,
) -> MessageRow:
    """An agent's public reply (sent through the outbox) or internal note (never sent).

    The reply's outbox job is written in this same transaction: if the reply is stored,
    it will be delivered; if the transaction fails, neither exists.
    """
    draft = AgentMessageDraft(actor, ticket, body, internal, html, status)
    return (await post_agent_messages(session, [draft]))[0]


async def post_agent_messages(
    session: AsyncSession, drafts: Sequence[AgentMessageDraft]
) -> list[MessageRow]:
    """post_agent_message for many at once (a chat node's group commit): a few statements in all.

    Raises InvalidInput for the first draft that may not be posted, before writing anything.
    """
    for draft in drafts:
        if not draft.body.strip():
            raise InvalidInput("body", "must not be empty")
        if draft.ticket.status == Status.CLOSED and not draft.internal:
            raise InvalidInput(
                "status", "the ticket is closed: open a follow-up ticket to write again"
            )
    now = utcnow()
    messages = list(
        await session.execute(
            _POST_AGENT_MESSAGES,
            [
                {
                    "ticket_id": draft.ticket.id,
                    "author_kind": AuthorKind.AGENT,
                    "agent_id": draft.actor.agent_id,
                    "channel": draft.ticket.channel,
                    "internal": draft.internal,
                    "body_text": draft.body,
                    "body_html": draft.html,
                    "contact_id": None,
                    "external_id": None,
                    "sender_mismatch": False,
                    "redactions": 0,
                    "delivery_status": None if draft.internal else DeliveryStatus.PENDING,
                    "delivery_error": None,
                    "delivery_reason": None,
                    "created_at": now,
                }
                for draft in drafts
            ],
        )
    )
    replies = [(d, m) for d, m in zip(drafts, messages, strict=True) if not d.internal]
    await enqueue_many(
        session,
        DELIVER_MESSAGE,
        [
            OutboxEntry(
                {"message_id": message.id},
                ticket_id=draft.ticket.id,
                idempotency_key=delivery_job_key(message.id),
                delay=draft.deliver_after,
            )
            for draft, message in replies
        ],
    )
    for draft, _ in replies:
        if draft.ticket.first_response_at is None:
            draft.ticket.first_response_at = now
    for draft in drafts:
        ticket = draft.ticket
        first_reply = ticket.status == Status.NEW and not draft.internal
        target = draft.status or (Status.OPEN if first_reply else None)
        if target and target != ticket.status:
            await _change_status(session, draft.actor, ticket, target)
        ticket.updated_at = now
    await session.flush()
    for draft, message in zip(drafts, messages, strict=True):
        emit(
            session,
            TICKETS_TOPIC,
            ticket_event(
                "message.created",
                draft.ticket,
                message_id=message.id,
                author="agent",
                internal=draft.internal,
            ),
        )
    return messages


async def _change_status(session: AsyncSession, actor: Actor, ticket: Ticket, target: str) -> None:
    if target not in set(Status):
        raise InvalidInput("status", f"must be one of {', '.join(Status)}")
    try:
        lifecycle.check_transition(ticket.status, target)
    except lifecycle.TransitionError as exc:
        raise InvalidInput("status", str(exc)) from None
    old = ticket.status
    ticket.status = target
    now = utcnow()
    if target == Status.SOLVED:
        ticket.solved_at = now
    elif old == Status.SOLVED and target != Status.CLOSED:
        ticket.solved_at = None  # reopened: it is no longer solved
    if target == Status.CLOSED:
        ticket.closed_at = now
        # A closed ticket lets go of its thread: the customer's next message opens a new one.
        ticket.open_thread_key = None
    await record(
        session, actor, "ticket.status_changed", "ticket", ticket.number, old=old, new=target
    )


class _Unset:
    pass


UNSET: Any = _Unset()


@dataclass
class TicketChanges:
    status: str = UNSET
    priority: str = UNSET
    category: str = UNSET
    assignee_id: int | None = UNSET
    tags: list[str] = UNSET


async def update_ticket(
    session: AsyncSession, actor: Actor, ticket: Ticket, changes: TicketChanges
) -> Ticket:
    """Apply the given changes (the ticket row must be locked by the caller's get_ticket)."""
    if changes.status is not UNSET and changes.status != ticket.status:
        await _change_status(session, actor, ticket, changes.status)
    if changes.priority is not UNSET and changes.priority != ticket.priority:
        if changes.priority not in set(Priority):
            raise InvalidInput("priority", f"must be one of {', '.join(Priority)}")
        await record(
            session,
            actor,
            "ticket.priority_changed",
            "ticket",
            ticket.number,
            old=ticket.priority,
            new=changes.priority,
        )
        ticket.priority = changes.priority
    if changes.category is not UNSET and changes.category != ticket.category:
        if changes.category not in set(Category):
            raise InvalidInput("category", f"must be one of {', '.join(Category)}")
        await record(
            session,
            actor,
            "ticket.category_changed",
            "ticket",
            ticket.number,
            old=ticket.category,
            new=changes.category,
        )
        ticket.category = changes.category
    if changes.assignee_id is not UNSET and changes.assignee_id != ticket.assignee_id:
        await assign_ticket(session, actor, ticket, changes.assignee_id)
    if changes.tags is not UNSET:
        await set_tags(session, actor, ticket, changes.tags)
    ticket.updated_at = utcnow()
    await session.flush()
    emit(session, TICKETS_TOPIC, ticket_event("ticket.updated", ticket))
    return ticket


async def assign_ticket(
    session: AsyncSession, actor: Actor, ticket: Ticket, assignee_id: int | None
) -> None:
    """Give the ticket to an agent who works its tier (or to nobody: back to the queue)."""
    if assignee_id is not None:
        assignee = await session.get(Agent, assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidInput("assignee", f"no active agent {assignee_id}")
        if assignee.role == Role.AGENT and assignee.tier != ticket.tier:
            raise InvalidInput(
                "assignee", f"{assignee.name} works L{assignee.tier}, not L{ticket.tier}"
            )
        if not actor.sees_all_queues and assignee.tier != actor.tier:
            raise PermissionDenied("agents assign within their own tier")
    await record(
        session,
        actor,
        "ticket.assigned",
        "ticket",
        ticket.number,
        old=ticket.assignee_id,
        new=assignee_id,
    )
    ticket.assignee_id = assignee_id
    if assignee_id is not None and ticket.status == Status.NEW:
        await _change_status(session, actor, ticket, Status.OPEN)


async def escalate_ticket(
    session: AsyncSession, actor: Actor, ticket: Ticket, reason: str
) -> Ticket:
    """Move the ticket up one tier into that tier's queue, unassigned, with the reason on record."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", "say why the ticket needs a higher tier")
    if ticket.tier >= max(TIERS):
        raise InvalidInput("tier", "the ticket is already at the highest tier (L3)")
    if ticket.status == Status.CLOSED:
        raise InvalidInput("status", "a closed ticket cannot be escalated")
    old_tier = ticket.tier
    team = await team_for_tier(session, old_tier + 1)
    if team is None:
        raise NotFound(f"no team serves L{old_tier + 1}")
    ticket.tier = old_tier + 1
    ticket.team_id = team.id
    ticket.assignee_id = None
    if ticket.status in (Status.SOLVED, Status.PENDING):
        ticket.status = Status.OPEN
    ticket.updated_at = utcnow()
    session.add(
        Message(
            ticket_id=ticket.id,
            author_kind=AuthorKind.SYSTEM,
            agent_id=actor.agent_id,
            channel=ticket.channel,
            internal=True,
            body_text=(
                f"Escalated L{old_tier} → L{ticket.tier} ({team.name}) by {actor.name}: {reason}"
            ),
            created_at=ticket.updated_at,
        )
    )
    await record(
        session,
        actor,
        "ticket.escalated",
        "ticket",
        ticket.number,
        old_tier=old_tier,
        new_tier=ticket.tier,
        team=team.name,
        reason=reason,
    )
    await session.flush()
    # old_tier lets the queue the ticket left drop it from live inbox views.
    emit(session, TICKETS_TOPIC, ticket_event("ticket.escalated", ticket, old_tier=old_tier))
    return ticket
