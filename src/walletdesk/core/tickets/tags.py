"""Tagging tickets: free-form labels agents and reports group tickets by."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput
from walletdesk.core.tickets.models import Tag, Ticket, ticket_tags
from walletdesk.db import insert_ignoring_conflicts

MAX_TAGS = 20


def _clean_tag(name: str) -> str:
    tag = " ".join(name.strip().lower().split())
    if not tag or len(tag) > 50:
        raise InvalidInput("tags", f"{name!r}: a tag has 1 to 50 characters")
    return tag


async def set_tags(session: AsyncSession, actor: Actor, ticket: Ticket, names: list[str]) -> None:
    wanted = sorted({_clean_tag(name) for name in names})
    if len(wanted) > MAX_TAGS:
        raise InvalidInput("tags", f"at most {MAX_TAGS} tags")
    for name in wanted:
        await session.execute(insert_ignoring_conflicts(session, Tag).values(name=name))
    tag_ids: dict[str, int] = (
        {
            name: tag_id
            for name, tag_id in await session.execute(
                select(Tag.name, Tag.id).where(Tag.name.in_(wanted))
            )
        }
        if wanted
        else {}
    )
    current = set(
        (
            await session.scalars(
                select(Tag.name).join(ticket_tags).where(ticket_tags.c.ticket_id == ticket.id)
            )
        ).all()
    )
    if current == set(wanted):
        return
    await session.execute(delete(ticket_tags).where(ticket_tags.c.ticket_id == ticket.id))
    if wanted:
        await session.execute(
            insert(ticket_tags), [{"ticket_id": ticket.id, "tag_id": tag_ids[n]} for n in wanted]
        )
    await record(
        session,
        actor,
        "ticket.tags_changed",
        "ticket",
        ticket.number,
        old=sorted(current),
        new=wanted,
    )
