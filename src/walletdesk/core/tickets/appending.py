"""Appending customers' follow-up messages to tickets whose thread is known, many at once.

A live chat's second and later messages already know their ticket and contact, so the
full ingest() (find the contact, find the ticket, open one) is wasted on them. This path
writes a whole batch of such messages with three statements: lock the tickets, insert
the messages, update the tickets. It is used through a GroupCommit, so under load one
transaction carries every message that arrived while the previous one was committing.

A draft whose ticket no longer owns the thread (closed meanwhile, so the next message
must open a follow-up ticket) is not appended: the caller sends it through ingest().
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.events import TICKETS_TOPIC, emit
from walletdesk.core.tickets.intake import wake_for_customer
from walletdesk.core.tickets.lifecycle import status_after_customer_message
from walletdesk.core.tickets.models import MESSAGES, TICKETS, AuthorKind
from walletdesk.core.tickets.service import ticket_event
from walletdesk.db import insert_ignoring_conflicts, utcnow

# What a batch needs of its tickets: read as plain rows, not ORM objects.
_TICKET_COLUMNS = [
    TICKETS.c[name]
    for name in (
        "id",
        "number",
        "status",
        "tier",
        "assignee_id",
        "contact_id",
        "channel",
        "open_thread_key",
    )
]

# Built once, bound per batch (an ORM statement built per call cost as much as its SQL).
# Locked in id order, so two nodes' batches touching the same tickets cannot deadlock.
_LOCK_TICKETS = (
    select(*_TICKET_COLUMNS)
    .where(TICKETS.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(TICKETS.c.id)
    .with_for_update()
)
_TOUCH_TICKETS = (
    update(TICKETS)
    .where(TICKETS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(updated_at=bindparam("b_now"))
)
_EARLIER_COPIES = select(MESSAGES.c.id, MESSAGES.c.external_id).where(
    MESSAGES.c.channel == bindparam("b_channel"),
    MESSAGES.c.external_id.in_(bindparam("b_external_ids", expanding=True)),
)


@dataclass(frozen=True, slots=True)
class FollowUpDraft:
    """A customer's message for the ticket that owns (channel, thread_key), already shielded."""

    ticket_id: int
    channel: str
    thread_key: str
    contact_id: int
    external_id: str
    text: str
    redactions: int = 0


@dataclass(frozen=True, slots=True)
class Appended:
    message_id: int
    ticket_id: int
    ticket_number: str
    duplicate: bool


async def append_follow_ups(
    session: AsyncSession, drafts: Sequence[FollowUpDraft]
) -> list[Appended | None]:
    """One result per draft: the stored (or earlier stored) message, or None → use ingest()."""
    ids = sorted({draft.ticket_id for draft in drafts})
    tickets: dict[int, Any] = {
        row.id: row for row in await session.execute(_LOCK_TICKETS, {"b_ids": ids})
    }
    accepted = [
        draft
        for draft in drafts
        if (ticket := tickets.get(draft.ticket_id)) is not None
        and ticket.channel == draft.channel
        and ticket.open_thread_key == draft.thread_key
    ]
    stored: dict[str, int] = {}
    now = utcnow()
    if accepted:
        rows = await session.execute(
            # The table, not the mapped class: a plain INSERT, without the ORM's bulk machinery.
            insert_ignoring_conflicts(session, MESSAGES, MESSAGES.c.id, MESSAGES.c.external_id),
            [
                {
                    "ticket_id": draft.ticket_id,
                    "author_kind": AuthorKind.CUSTOMER,
                    "contact_id": draft.contact_id,
                    "channel": draft.channel,
                    "external_id": draft.external_id,
                    "internal": False,
                    "body_text": draft.text,
                    "body_html": None,
                    "sender_mismatch": draft.contact_id != tickets[draft.ticket_id].contact_id,
                    "redactions": draft.redactions,
                    "delivery_status": None,
                    "created_at": now,
                }
                for draft in accepted
            ],
        )
        stored = {external_id: message_id for message_id, external_id in rows}
    earlier = await _earlier_copies(session, [d for d in accepted if d.external_id not in stored])

    touched = {draft.ticket_id for draft in accepted if draft.external_id in stored}
    # The rare case, a solved or pending ticket waking up, is audited ticket by ticket.
    waking = {
        ticket_id
        for ticket_id in touched
        if status_after_customer_message(tickets[ticket_id].status) != tickets[ticket_id].status
    }
    statuses = {ticket_id: ticket.status for ticket_id, ticket in tickets.items()}
    for ticket_id in sorted(waking):
        statuses[ticket_id] = await wake_for_customer(session, tickets[ticket_id], now)
    if touched - waking:
        await session.execute(_TOUCH_TICKETS, {"b_ids": list(touched - waking), "b_now": now})

    results: list[Appended | None] = []
    accepted_ids = {id(draft) for draft in accepted}
    answered: set[str] = set()
    for draft in drafts:
        ticket = tickets.get(draft.ticket_id)
        message_id = stored.get(draft.external_id)
        if id(draft) not in accepted_ids or ticket is None:
            results.append(None)
        elif message_id is not None and draft.external_id not in answered:
            answered.add(draft.external_id)
            emit(
                session,
                TICKETS_TOPIC,
                ticket_event(
                    "message.created",
                    ticket,
                    status=statuses[ticket.id],
                    message_id=message_id,
                    author="customer",
                ),
            )
            results.append(Appended(message_id, ticket.id, ticket.number, duplicate=False))
        else:  # stored earlier, or twice in this very batch (a resend overtaking its ack)
            message_id = message_id or earlier.get((draft.channel, draft.external_id))
            results.append(
                None
                if message_id is None
                else Appended(message_id, ticket.id, ticket.number, duplicate=True)
            )
    return results


async def _earlier_copies(
    session: AsyncSession, drafts: Sequence[FollowUpDraft]
) -> dict[tuple[str, str], int]:
    """Messages a resend already stored (the client missed our ack): found, not stored twice."""
    found: dict[tuple[str, str], int] = {}
    for channel in {draft.channel for draft in drafts}:
        external_ids = [draft.external_id for draft in drafts if draft.channel == channel]
        rows = await session.execute(
            _EARLIER_COPIES, {"b_channel": channel, "b_external_ids": external_ids}
        )
        found.update({(channel, external_id or ""): message_id for message_id, external_id in rows})
    return found
