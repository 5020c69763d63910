"""Agents' chat messages: stored once per client id, delivered live and by the outbox.

A busy node writes the replies that arrive together in one transaction (the hub's group
commit): a handful of statements for the whole batch instead of six per reply. One
reply's refusal (the chat ended, another agent holds it) is returned as its own result
and does not hold back the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat import events
from walletdesk.channels.webchat.history import message_frame
from walletdesk.channels.webchat.models import AgentChatMessage, Conversation, ConversationStatus
from walletdesk.channels.webchat.service import check_handler
from walletdesk.core.actors import Actor
from walletdesk.core.attachments.service import clean_filename, sniff_type, store_attachment
from walletdesk.core.attachments.storage import AttachmentStore
from walletdesk.core.channels import Attachment as InboundFile
from walletdesk.core.errors import Conflict, DomainError, InvalidInput, NotFound
from walletdesk.core.group_commit import GroupCommit
from walletdesk.core.outbox.service import settle
from walletdesk.core.tickets.delivery import record_sent
from walletdesk.core.tickets.models import Status, Ticket
from walletdesk.core.tickets.queries import check_visible
from walletdesk.core.tickets.service import (
    AgentMessageDraft,
    delivery_job_key,
    post_agent_messages,
)
from walletdesk.db import insert_ignoring_conflicts

# Every batch of agents' chat messages runs these: built once, bound per batch.
# The tickets' rows are locked (in id order, so batches on two nodes cannot deadlock);
# the chats' rows are not: a reply changes the ticket, not the conversation.
_CHATS_WITH_TICKETS = (
    select(Conversation, Ticket)
    .join(Ticket, Ticket.id == Conversation.ticket_id)
    .where(Conversation.public_id.in_(bindparam("b_public_ids", expanding=True)))
    .order_by(Ticket.id)
    .with_for_update(of=Ticket)
)
_CHATS = select(Conversation).where(
    Conversation.public_id.in_(bindparam("b_public_ids", expanding=True))
)
_EARLIER_COPIES = select(
    AgentChatMessage.conversation_id, AgentChatMessage.client_id, AgentChatMessage.message_id
).where(
    tuple_(AgentChatMessage.conversation_id, AgentChatMessage.client_id).in_(
        bindparam("b_pairs", expanding=True)
    )
)


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    actor: Actor
    conversation: str
    client_id: str
    text: str
    # Checked by uploads.checked_upload already; stored strictly typed.
    attachment: InboundFile | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    message_id: int
    duplicate: bool


async def post_reply(
    session: AsyncSession,
    actor: Actor,
    public_id: str,
    *,
    client_id: str,
    text: str,
    attachment: InboundFile | None = None,
    files: AttachmentStore | None = None,
) -> Reply:
    """One agent chat message; raises the DomainError that refuses it."""
    draft = ReplyDraft(actor, public_id, client_id, text, attachment)
    result = (await post_replies(session, [draft], files=files))[0]
    if isinstance(result, DomainError):
        raise result
    return result


async def post_replies(
    session: AsyncSession,
    drafts: Sequence[ReplyDraft],
    *,
    files: AttachmentStore | None = None,
    live_grace: float = 0.0,
) -> list[Reply | DomainError]:
    """One result per draft, in order. Raises Conflict if a concurrent resend got in first.

    `live_grace`: the caller settles the replies' delivery itself after the commit (see
    settle_live_replies), so the outbox holds them back that many seconds as a fallback.
    """
    chats = await _chats_with_tickets(session, {draft.conversation for draft in drafts})
    earlier = await _earlier_copies(session, chats, drafts)
    results: list[Reply | DomainError | None] = []
    to_post: list[tuple[int, ReplyDraft, Conversation, Ticket]] = []
    first_of: dict[tuple[str, str], int] = {}  # a resend within the batch answers as its first
    for index, draft in enumerate(drafts):
        key = (draft.conversation, draft.client_id)
        if key in earlier:
            results.append(Reply(earlier[key], duplicate=True))
        elif key in first_of:
            results.append(None)
        else:
            try:
                conversation, ticket = _replyable(draft, chats.get(draft.conversation))
            except DomainError as refusal:
                results.append(refusal)
                continue
            first_of[key] = index
            to_post.append((index, draft, conversation, ticket))
            results.append(None)
    if to_post:
        messages = await post_agent_messages(
            session,
            [
                AgentMessageDraft(
                    draft.actor,
                    ticket,
                    draft.text.strip() or (draft.attachment.filename if draft.attachment else ""),
                    deliver_after=live_grace,
                )
                for _, draft, _, ticket in to_post
            ],
        )
        await _remember_client_ids(session, to_post, [message.id for message in messages])
        for (index, draft, _, _), message in zip(to_post, messages, strict=True):
            frame = message_frame(
                message, conversation=draft.conversation, agent_name=draft.actor.name
            )
            frame["client_id"] = draft.client_id
            if draft.attachment is not None:
                frame["attachments"] = [
                    await _store_attachment(session, files, message.id, draft.attachment)
                ]
            events.emit_chat(
                session,
                events.to_conversation(draft.conversation, {"type": "message", "message": frame}),
            )
            results[index] = Reply(message.id, duplicate=False)
    final: list[Reply | DomainError] = []
    for draft, result in zip(drafts, results, strict=True):
        if result is None:
            first = results[first_of[(draft.conversation, draft.client_id)]]
            assert isinstance(first, Reply)
            result = Reply(first.message_id, duplicate=True)
        final.append(result)
    return final


async def _chats_with_tickets(
    session: AsyncSession, public_ids: set[str]
) -> dict[str, tuple[Conversation, Ticket | None]]:
    rows = await session.execute(_CHATS_WITH_TICKETS, {"b_public_ids": list(public_ids)})
    chats: dict[str, tuple[Conversation, Ticket | None]] = {
        conversation.public_id: (conversation, ticket) for conversation, ticket in rows
    }
    missing = public_ids - chats.keys()
    if missing:  # no such chat, or one whose first message has not made its ticket yet
        for conversation in await session.scalars(_CHATS, {"b_public_ids": list(missing)}):
            chats[conversation.public_id] = (conversation, None)
    return chats


async def _earlier_copies(
    session: AsyncSession,
    chats: dict[str, tuple[Conversation, Ticket | None]],
    drafts: Sequence[ReplyDraft],
) -> dict[tuple[str, str], int]:
    public_id_of = {conversation.id: pid for pid, (conversation, _) in chats.items()}
    pairs = [
        (chats[draft.conversation][0].id, draft.client_id)
        for draft in drafts
        if draft.conversation in chats
    ]
    if not pairs:
        return {}
    rows = await session.execute(_EARLIER_COPIES, {"b_pairs": pairs})
    return {(public_id_of[conv], client_id): message_id for conv, client_id, message_id in rows}


def _replyable(
    draft: ReplyDraft, chat: tuple[Conversation, Ticket | None] | None
) -> tuple[Conversation, Ticket]:
    if chat is None:
        raise NotFound(f"no conversation {draft.conversation}")
    conversation, ticket = chat
    check_handler(draft.actor, conversation)
    if conversation.status == ConversationStatus.ENDED:
        raise InvalidInput("conversation", "this chat has ended; reply on the ticket instead")
    if ticket is None:
        raise NotFound("this conversation has no ticket yet")
    check_visible(draft.actor, ticket)
    if ticket.status == Status.CLOSED:
        raise InvalidInput("status", "the ticket is closed: open a follow-up ticket to write again")
    return conversation, ticket


async def _remember_client_ids(
    session: AsyncSession,
    posted: Sequence[tuple[int, ReplyDraft, Conversation, Ticket]],
    message_ids: Sequence[int],
) -> None:
    table = cast(Table, AgentChatMessage.__table__)  # plain Core, not the ORM's bulk INSERT
    rows = await session.execute(
        insert_ignoring_conflicts(session, table, table.c.id),
        [
            {
                "conversation_id": conversation.id,
                "client_id": draft.client_id,
                "message_id": message_id,
            }
            for (_, draft, conversation, _), message_id in zip(posted, message_ids, strict=True)
        ],
    )
    if len(rows.all()) != len(posted):
        # A resend of one of these was stored by another node or request meanwhile: this
        # transaction rolls back, and a retry finds that copy (answered as a duplicate).
        raise Conflict("this message is being stored by another request")


async def _store_attachment(
    session: AsyncSession, files: AttachmentStore | None, message_id: int, upload: InboundFile
) -> dict[str, Any]:
    assert files is not None, "a reply with a file needs the node's attachment store"
    attachment_id = await store_attachment(
        session,
        files,
        message_id=message_id,
        filename=upload.filename,
        declared_type=upload.content_type,
        data=upload.data,
        strict_type=True,
    )
    return {
        "id": attachment_id,
        "name": clean_filename(upload.filename),
        "type": sniff_type(upload.data),
        "size": len(upload.data),
    }


async def settle_live_replies(
    settling: GroupCommit[int, None], results: Sequence[Reply | DomainError]
) -> None:
    """After a batch's replies were published live: their delivery is done, no worker needed.

    Through the node's own group commit (`settle_sent`): under load, the replies of every
    batch committed meanwhile are settled in one transaction instead of one per batch.
    """
    fresh = [r.message_id for r in results if isinstance(r, Reply) and not r.duplicate]
    await asyncio.gather(*(settling.submit(message_id) for message_id in fresh))


async def settle_sent(session: AsyncSession, message_ids: Sequence[int]) -> list[None]:
    """Mark replies delivered and their outbox jobs done (a GroupCommit writer)."""
    await settle(session, [delivery_job_key(message_id) for message_id in message_ids])
    await record_sent(session, message_ids)
    return [None] * len(message_ids)
