"""Recording what became of a reply on its way out, where agents see it: on the ticket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.channels import DELIVERY_REASONS
from walletdesk.core.events import TICKETS_TOPIC, emit
from walletdesk.core.tickets.models import DeliveryStatus, Message, Ticket
from walletdesk.core.tickets.service import ticket_event


async def _keep_platform_id(session: AsyncSession, message_id: int, external_id: str) -> None:
    """Store the platform's id for a sent reply, unless another message of the channel has it.

    Some platforms answer every post with one id (the thread's, or a constant). A second
    copy would break the unique (channel, external_id), fail the worker's bookkeeping and
    so have the reply sent again once its lease ran out; the savepoint keeps the rest.
    """
    try:
        async with session.begin_nested():
            await session.execute(
                update(Message).where(Message.id == message_id).values(external_id=external_id)
            )
    except IntegrityError:
        pass


async def record_delivery(
    session: AsyncSession,
    message_id: int,
    *,
    error: str | None,
    reason: str | None = None,
    dead: bool,
    external_id: str | None,
) -> int | None:
    """Show a reply's delivery outcome on its ticket; returns the ticket id.

    `reason` (core.channels.DELIVERY_REASONS) is what the console says in the agent's
    language; `error` is the detail beside it, often the platform's own words.
    """
    if error is None:
        values: dict[str, Any] = {
            "delivery_status": DeliveryStatus.SENT,
            "delivery_error": None,
            "delivery_reason": None,
        }
    else:
        values = {
            "delivery_status": DeliveryStatus.FAILED if dead else DeliveryStatus.PENDING,
            "delivery_error": error[:2000],
            "delivery_reason": reason if reason in DELIVERY_REASONS else "failed",
        }
    ticket_id = await session.scalar(
        update(Message)
        .where(Message.id == message_id)
        .values(**values)
        .returning(Message.ticket_id)
    )
    if ticket_id is not None and error is None and external_id:
        await _keep_platform_id(session, message_id, external_id)
    if ticket_id is not None:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is not None:
            _announce(session, ticket, message_id, values["delivery_status"])
    return ticket_id


def _announce(session: AsyncSession, ticket: Any, message_id: int, status: str) -> None:
    """Tell live screens (the ticket page's delivery tick) after the commit."""
    emit(
        session,
        TICKETS_TOPIC,
        ticket_event("message.delivery", ticket, message_id=message_id, delivery_status=status),
    )


async def record_sent(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Many replies delivered by their own node (a live chat): one statement for all.

    Only replies still pending change: one a worker got to first keeps its own record.
    """
    if not message_ids:
        return
    sent = (await session.execute(_MARK_SENT, {"b_ids": list(message_ids)})).all()
    tickets = {
        ticket.id: ticket
        for ticket in await session.execute(
            _EVENT_TICKETS, {"b_ids": list({ticket_id for _, ticket_id in sent})}
        )
    }
    for message_id, ticket_id in sent:
        _announce(session, tickets[ticket_id], message_id, DeliveryStatus.SENT)


_MESSAGES = cast(Table, Message.__table__)
_TICKETS = cast(Table, Ticket.__table__)
# A live chat marks every batch of replies it delivered: built once, bound per batch.
_MARK_SENT = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id.in_(bindparam("b_ids", expanding=True)),
        _MESSAGES.c.delivery_status == DeliveryStatus.PENDING,
    )
    .values(delivery_status=DeliveryStatus.SENT, delivery_error=None, delivery_reason=None)
    .returning(_MESSAGES.c.id, _MESSAGES.c.ticket_id)
)
# What a ticket's live event tells (see ticket_event).
_EVENT_TICKETS = select(
    _TICKETS.c.id, _TICKETS.c.number, _TICKETS.c.status, _TICKETS.c.tier, _TICKETS.c.assignee_id
).where(_TICKETS.c.id.in_(bindparam("b_ids", expanding=True)))
