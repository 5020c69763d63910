"""A conversation's messages as chat frames: for the welcome, history requests and live pushes.

A conversation's history is the public messages of the tickets its thread opened, plus
every message the customer sent from it (a message quoting another of their ticket
numbers is stored on that ticket, and must still show in the chat it was typed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat.models import Conversation, ConversationTicket
from walletdesk.core.agents.models import Agent
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.service import attachments_of
from walletdesk.core.tickets.models import AuthorKind, Message, MessageRow

CHANNEL = "webchat"


def external_id(conversation: str, client_id: str) -> str:
    return f"{conversation}:{client_id}"


def attachment_frame(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "name": attachment.filename,
        "type": attachment.content_type,
        "size": attachment.size,
    }


def message_frame(
    message: Message | MessageRow,
    *,
    conversation: str,
    agent_name: str = "",
    attachments: Sequence[Attachment] = (),
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "id": message.id,
        "author": message.author_kind,
        "text": message.body_text,
        "at": message.created_at.isoformat(),
    }
    if message.author_kind == AuthorKind.AGENT:
        frame["name"] = agent_name
    prefix = conversation + ":"
    if message.external_id and message.external_id.startswith(prefix):
        frame["client_id"] = message.external_id[len(prefix) :]
    if attachments:
        frame["attachments"] = [attachment_frame(a) for a in attachments]
    return frame


def in_conversation(conversation: Conversation) -> ColumnElement[bool]:
    """The condition on Message of what the customer sees in this chat (no internal notes)."""
    pid = conversation.public_id
    tickets = select(ConversationTicket.ticket_id).where(
        ConversationTicket.conversation_id == conversation.id
    )
    return or_(
        and_(Message.ticket_id.in_(tickets), Message.internal.is_(False)),
        # A range on the unique (channel, external_id) index, unlike LIKE on every backend.
        and_(
            Message.channel == CHANNEL,
            Message.external_id >= pid + ":",
            Message.external_id < pid + ";",
            Message.internal.is_(False),
        ),
    )


async def conversation_messages(
    session: AsyncSession, conversation: Conversation, *, after: int = 0, limit: int = 200
) -> tuple[list[dict[str, Any]], bool]:
    """Messages after `after` (the newest `limit` when after is 0), oldest first; and whether
    more are left out."""
    pid = conversation.public_id
    query = select(Message).where(in_conversation(conversation))
    if after:
        query = query.where(Message.id > after).order_by(Message.id).limit(limit + 1)
        rows = list((await session.scalars(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
    else:
        query = query.order_by(Message.id.desc()).limit(limit + 1)
        rows = list((await session.scalars(query)).all())
        more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
    return await frames_for(session, rows, conversation=pid), more


async def frames_for(
    session: AsyncSession, rows: Sequence[Message], *, conversation: str
) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [m.id for m in rows]
    files = await attachments_of(session, ids)
    agent_ids = {m.agent_id for m in rows if m.agent_id is not None}
    names: dict[int, str] = {}
    if agent_ids:
        names = {
            row[0]: row[1]
            for row in await session.execute(
                select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))
            )
        }
    return [
        message_frame(
            m,
            conversation=conversation,
            agent_name=names.get(m.agent_id, "") if m.agent_id is not None else "",
            attachments=files.get(m.id, ()),
        )
        for m in rows
    ]


async def message_by_id(
    session: AsyncSession, message_id: int, *, conversation: str
) -> dict[str, Any] | None:
    message = await session.get(Message, message_id)
    if message is None or message.internal:
        return None
    return (await frames_for(session, [message], conversation=conversation))[0]
