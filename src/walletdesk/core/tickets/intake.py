"""Opening tickets and storing customers' messages: what every inbound message runs.

ingest() and the chat's follow-up appends call these for every message a customer
sends, so their statements are built once, on the tables, and a call only binds its
parameters: building an ORM statement per call cost about twice the CPU, the largest
share of a message's intake. They return plain rows (`row.id`, `row.status`, like the
ORM objects' attributes) that are not in the session's identity map; nothing here may
therefore be mixed with an ORM Ticket of the same row in one session.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Role, Team
from walletdesk.core.audit.service import record
from walletdesk.core.events import TICKETS_TOPIC, emit
from walletdesk.core.tickets.lifecycle import status_after_customer_message
from walletdesk.core.tickets.models import (
    MESSAGES,
    TICKETS,
    AuthorKind,
    Category,
    MessageRow,
    Priority,
    Status,
    TicketRow,
)
from walletdesk.core.tickets.numbering import next_ticket_number
from walletdesk.core.tickets.service import ticket_event
from walletdesk.db import ignoring_conflicts, insert_ignoring_conflicts, utcnow

log = logging.getLogger(__name__)

_TEAMS = cast(Table, Team.__table__)

# The L1 queue is looked up inside the INSERT: one round trip fewer.
_L1_TEAM = (
    select(_TEAMS.c.id).where(_TEAMS.c.tier == 1).order_by(_TEAMS.c.id).limit(1).scalar_subquery()
)
_TEAM_NAMED = select(_TEAMS.c.id, _TEAMS.c.tier).where(_TEAMS.c.name == bindparam("b_name"))
_TICKET_NUMBERED = (
    select(*TICKETS.c).where(TICKETS.c.number == bindparam("b_number")).with_for_update()
)
_TICKET_OWNING_THREAD = (
    select(*TICKETS.c)
    .where(
        TICKETS.c.channel == bindparam("b_channel"),
        TICKETS.c.open_thread_key == bindparam("b_thread_key"),
    )
    .with_for_update()
)
_TOUCH_TICKET = (
    update(TICKETS).where(TICKETS.c.id == bindparam("b_id")).values(updated_at=bindparam("b_now"))
)


@functools.cache
def _opening(dialect: str, threaded: bool) -> Any:
    # A threaded ticket may lose the race for its thread (unique open_thread_key): then
    # the INSERT does nothing and the caller takes the winner's ticket.
    statement = ignoring_conflicts(dialect, TICKETS) if threaded else insert(TICKETS)
    return statement.values(
        team_id=func.coalesce(bindparam("b_team_id", type_=Integer), _L1_TEAM)
    ).returning(*TICKETS.c)


async def open_ticket(
    session: AsyncSession,
    *,
    contact_id: int,
    channel: str,
    subject: str,
    thread_key: str | None = None,
    category: str | None = None,
    priority: str | None = None,
    locale: str | None = None,
    follow_up_of_id: int | None = None,
    team: str | None = None,
) -> TicketRow | None:
    """Insert a new ticket in the named team's queue, else L1's.

    None if an open ticket already owns this channel thread.
    """
    tier, team_id = 1, None
    if team is not None:
        named = (await session.execute(_TEAM_NAMED, {"b_name": team})).first()
        if named is None:
            log.warning("no team %r: the new ticket goes to the L1 queue", team)
        else:
            tier, team_id = named.tier, named.id
    now = utcnow()
    dialect = session.get_bind().dialect.name
    ticket = (
        await session.execute(
            _opening(dialect, thread_key is not None),
            {
                "number": await next_ticket_number(session),
                "subject": subject[:300],
                "status": Status.NEW,
                "priority": priority or Priority.NORMAL,
                "category": category or Category.OTHER,
                "tier": tier,
                "b_team_id": team_id,
                "assignee_id": None,
                "contact_id": contact_id,
                "channel": channel,
                "thread_key": thread_key,
                "open_thread_key": thread_key,
                "locale": locale,
                "follow_up_of_id": follow_up_of_id,
                "created_at": now,
                "updated_at": now,
                "first_response_at": None,
                "solved_at": None,
                "closed_at": None,
            },
        )
    ).first()
    if ticket is None:
        return None
    emit(session, TICKETS_TOPIC, ticket_event("ticket.created", ticket, channel=channel))
    return ticket


async def ticket_numbered(session: AsyncSession, number: str) -> TicketRow | None:
    """The ticket with this number, its row locked."""
    return (await session.execute(_TICKET_NUMBERED, {"b_number": number})).first()


async def ticket_owning_thread(
    session: AsyncSession, channel: str, thread_key: str
) -> TicketRow | None:
    """The open ticket of a channel thread (a chat, an email thread), its row locked."""
    return (
        await session.execute(
            _TICKET_OWNING_THREAD, {"b_channel": channel, "b_thread_key": thread_key}
        )
    ).first()


async def add_customer_message(
    session: AsyncSession,
    ticket: TicketRow,
    *,
    contact_id: int,
    channel: str,
    text: str,
    html: str | None = None,
    external_id: str | None = None,
    redactions: int = 0,
    fresh_ticket: bool = False,
) -> MessageRow | None:
    """Store a customer's message and wake the ticket up; None if it was stored before.

    `fresh_ticket`: the ticket was opened for this message a moment ago, so there is
    nothing to wake up (and no UPDATE to send).
    """
    now = utcnow()
    message = (
        await session.execute(
            # A redelivered message (same channel and external id) is skipped, not stored twice.
            insert_ignoring_conflicts(session, MESSAGES, *MESSAGES.c),
            {
                "ticket_id": ticket.id,
                "author_kind": AuthorKind.CUSTOMER,
                "agent_id": None,
                "contact_id": contact_id,
                "channel": channel,
                "external_id": external_id,
                "internal": False,
                "body_text": text,
                "body_html": html,
                "sender_mismatch": contact_id != ticket.contact_id,
                "redactions": redactions,
                "delivery_status": None,
                "delivery_error": None,
                "delivery_reason": None,
                "created_at": now,
            },
        )
    ).first()
    if message is None:
        return None
    status = ticket.status if fresh_ticket else await wake_for_customer(session, ticket, now)
    emit(
        session,
        TICKETS_TOPIC,
        ticket_event(
            "message.created", ticket, status=status, message_id=message.id, author="customer"
        ),
    )
    return message


async def wake_for_customer(session: AsyncSession, ticket: TicketRow, now: datetime) -> str:
    """A customer wrote: a solved ticket reopens, a wait on them ends, the ticket moves up.

    Returns the ticket's status now.
    """
    new_status = status_after_customer_message(ticket.status)
    if new_status == ticket.status:
        await session.execute(_TOUCH_TICKET, {"b_id": ticket.id, "b_now": now})
        return new_status
    await record(
        session,
        _CUSTOMER,
        "ticket.reopened" if ticket.status == Status.SOLVED else "ticket.status_changed",
        "ticket",
        ticket.number,
        old=ticket.status,
        new=new_status,
        reason="customer message",
    )
    changes: dict[str, Any] = {"status": new_status, "updated_at": now}
    if ticket.status == Status.SOLVED:
        changes["solved_at"] = None
    await session.execute(update(TICKETS).where(TICKETS.c.id == ticket.id).values(**changes))
    return new_status


_CUSTOMER = Actor(kind="system", agent_id=None, name="customer", role=Role.ADMIN, tier=3)
