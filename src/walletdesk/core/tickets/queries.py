"""Reading tickets: what an actor may see, one ticket, and inbox pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.errors import InvalidInput, NotFound, PermissionDenied
from walletdesk.core.tickets import numbers, search
from walletdesk.core.tickets.models import (
    ACTIVE_STATUSES,
    AuthorKind,
    Message,
    Tag,
    Ticket,
    ticket_tags,
)
from walletdesk.db import MAX_BIGINT_ID

PAGE_SIZE = 50

# Rendered as literals, not bound parameters, so that the planner (and PostgreSQL's cached
# generic plan) can match the partial indexes on active tickets.
ACTIVE = Ticket.status.in_(
    bindparam("active_statuses", [str(s) for s in ACTIVE_STATUSES], literal_execute=True)
)


def visible_tickets(actor: Actor) -> Select[Ticket]:
    """The one place that says which tickets an actor may see.

    Agents work their own tier's queues; supervisors, admins and the system see all.
    Every route builds on this.
    """
    query = select(Ticket)
    if not actor.sees_all_queues:
        query = query.where(Ticket.tier == actor.tier)
    return query


def check_visible(actor: Actor, ticket: Ticket) -> None:
    """visible_tickets' rule for a ticket already read (a batch that locked many at once)."""
    if not actor.sees_all_queues and ticket.tier != actor.tier:
        raise PermissionDenied(
            f"ticket {ticket.number} is in the L{ticket.tier} queue; you work L{actor.tier}"
        )


async def get_ticket(
    session: AsyncSession, actor: Actor, number: str, *, for_update: bool = False
) -> Ticket:
    """The ticket with this number if the actor may see it; `for_update` locks its row."""
    query = visible_tickets(actor).where(Ticket.number == number)
    if for_update:
        query = query.with_for_update()
    ticket = await session.scalar(query)
    if ticket is None:
        # Agents are colleagues, not strangers: telling them a ticket sits in another
        # tier's queue (403) helps more than pretending it does not exist.
        tier = await session.scalar(select(Ticket.tier).where(Ticket.number == number))
        if tier is not None:
            raise PermissionDenied(
                f"ticket {number} is in the L{tier} queue; you work L{actor.tier}"
            )
        raise NotFound(f"no ticket {number}")
    return ticket


async def ticket_messages(
    session: AsyncSession, ticket_id: int, *, include_internal: bool = True
) -> Sequence[Message]:
    query = select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)
    if not include_internal:
        query = query.where(Message.internal.is_(False))
    return (await session.scalars(query)).all()


async def ticket_tag_names(
    session: AsyncSession, ticket_ids: Sequence[int]
) -> dict[int, list[str]]:
    if not ticket_ids:
        return {}
    rows = await session.execute(
        select(ticket_tags.c.ticket_id, Tag.name)
        .join(Tag, Tag.id == ticket_tags.c.tag_id)
        .where(ticket_tags.c.ticket_id.in_(ticket_ids))
        .order_by(Tag.name)
    )
    tags: dict[int, list[str]] = {tid: [] for tid in ticket_ids}
    for ticket_id, name in rows:
        tags[ticket_id].append(name)
    return tags


@dataclass(frozen=True, slots=True)
class InboxFilter:
    status: str | None = None  # a status, or "active" for everything not solved/closed
    tier: int | None = None
    channel: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    q: str | None = None


@dataclass(frozen=True, slots=True)
class InboxPage:
    tickets: Sequence[Ticket]
    next_cursor: str | None


def encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.updated_at.isoformat()}|{ticket.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, ticket_id = raw.split("|")
        when, after_id = datetime.fromisoformat(stamp), int(ticket_id)
        if when.tzinfo is None or not 0 < after_id <= MAX_BIGINT_ID:
            raise ValueError(raw)
        return when, after_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "is not a cursor this server handed out") from None


async def list_tickets(
    session: AsyncSession,
    actor: Actor,
    filters: InboxFilter,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """Newest activity first, keyset-paginated on (updated_at, id): page 1,000 costs as page 1."""
    if filters.tier is not None and not actor.sees_all_queues and filters.tier != actor.tier:
        raise PermissionDenied(f"you work the L{actor.tier} queues, not L{filters.tier}")
    query = visible_tickets(actor)
    if filters.status == "active":
        query = query.where(ACTIVE)
    elif filters.status:
        query = query.where(Ticket.status == filters.status)
    if filters.tier is not None:
        query = query.where(Ticket.tier == filters.tier)
    if filters.channel:
        query = query.where(Ticket.channel == filters.channel)
    if filters.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    after = decode_cursor(cursor) if cursor else None
    if after:
        # One row-value comparison, which both databases seek in the (updated_at, id) index.
        query = query.where(tuple_(Ticket.updated_at, Ticket.id) < tuple_(*after))
    term = (filters.q or "").strip()
    number = numbers.normalize(term)
    if term and numbers.is_valid(number):
        query = query.where(Ticket.number == number)
        term = ""
    if "\x00" in term:
        # No subject can hold it (PostgreSQL text cannot); and asyncpg would refuse to send it.
        return InboxPage([], None)
    if not term:
        rows = await _newest(session, query, limit + 1)
    elif session.get_bind().dialect.name == "sqlite":
        rows = await search.search_page(session, query, term, limit + 1)
    else:
        # asyncpg prepares statements, and after five runs PostgreSQL may keep a generic plan
        # that guesses how common "a word" is; a subject search must be planned for its
        # actual word to use the trigram index well.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        # Subjects as typed: "2024-01" or "500元", not "202401".
        rows = await _newest(session, query.where(search.subject_like(term)), limit + 1)
    has_more = len(rows) > limit
    page = rows[:limit]
    return InboxPage(page, encode_cursor(page[-1]) if has_more and page else None)


async def _newest(session: AsyncSession, query: Select[Ticket], fetch: int) -> Sequence[Ticket]:
    return (await session.scalars(query.order_by(*search.NEWEST_FIRST).limit(fetch))).all()


async def tickets_of_contact(
    session: AsyncSession, actor: Actor, contact_id: int
) -> Sequence[Ticket]:
    """A contact's history across channels; tickets outside the actor's queues are left out."""
    query = (
        visible_tickets(actor)
        .where(Ticket.contact_id == contact_id)
        .order_by(Ticket.created_at.desc())
        .limit(200)
    )
    return (await session.scalars(query)).all()


async def first_customer_text(session: AsyncSession, ticket_id: int) -> str:
    """What the customer first wrote on a ticket (for suggestions and previews)."""
    text = await session.scalar(
        select(Message.body_text)
        .where(Message.ticket_id == ticket_id, Message.author_kind == AuthorKind.CUSTOMER)
        .order_by(Message.id)
        .limit(1)
    )
    return text or ""
