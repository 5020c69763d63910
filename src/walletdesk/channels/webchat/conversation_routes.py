"""The customer's own conversation over HTTP: files sent and fetched, and missed history.

Each request carries the conversation's resume token (from the welcome frame), which
proves which conversation it is and names its site. A file is sent as a chat message
through ingest(), acked like one and published to the conversation; a file can be fetched
only from the customer's own conversation, never from an internal note.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from walletdesk.channels.webchat import events, service
from walletdesk.channels.webchat.cross_origin import (
    answer,
    preflight,
    refused,
    request_ip,
    resume_from_token,
)
from walletdesk.channels.webchat.frames import valid_client_id
from walletdesk.channels.webchat.history import (
    CHANNEL,
    conversation_messages,
    external_id,
    frames_for,
)
from walletdesk.channels.webchat.hub import ChatHub
from walletdesk.channels.webchat.hubs import hub_of
from walletdesk.channels.webchat.identity import Resume
from walletdesk.channels.webchat.models import (
    Conversation,
    ConversationStatus,
    ConversationTicket,
)
from walletdesk.channels.webchat.protocol import ChatInvalid
from walletdesk.channels.webchat.sites import Site
from walletdesk.channels.webchat.uploads import (
    BodyTooLarge,
    bad_form,
    capped,
    checked_text,
    checked_upload,
    declared_length,
    too_large,
    upload_body_limit,
)
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.routes import attachment_response
from walletdesk.core.channels import Attachment as InboundFile
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import DomainError, InvalidInput, NotFound
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.tickets.models import Message
from walletdesk.db import MAX_BIGINT_ID

router = APIRouter()


@router.options("/api/uploads", include_in_schema=False)
async def upload_preflight(request: Request) -> Response:
    return preflight(request)


@router.post("/api/uploads")
async def upload(request: Request) -> Response:
    """A file from the customer, as a chat message (multipart: token, id, file, text)."""
    origin = request.headers.get("origin")
    hub = hub_of(request.app)
    if not hub.ip_limits.window(f"upload:{request_ip(request)}", 30).hit():
        return answer(
            {"error": "too many uploads; try again in a minute", "code": "rate_limited"},
            429,
            origin,
        )
    # Refused before a byte of the body is read (a spooled 1 GB form would fill the disk
    # first), and a body without a Content-Length is read only up to the same limit.
    # The site is not known yet: the answer names no more than the size.
    limit = upload_body_limit(hub.settings)
    if declared_length(request) > limit:
        return _oversized(hub, origin)
    try:
        async with capped(request, limit).form(
            max_files=1, max_fields=10, max_part_size=1024 * 1024
        ) as form:
            token, client_id, text = (str(form.get(k) or "") for k in ("token", "id", "text"))
            resume, site, origin = await resume_from_token(request, token)
            if not valid_client_id(client_id):
                raise InvalidInput("id", "a client message id of 1-64 letters, digits, - or _")
            checked_text(hub.settings, text)
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise InvalidInput("file", "attach one file")
            data = await file.read(hub.settings.max_attachment_bytes + 1)
            attachment = checked_upload(
                hub.settings, file.filename or "", file.content_type or "", data
            )
        frame, result = await _store_upload(hub, resume, site, client_id, text, attachment)
    except BodyTooLarge:
        return _oversized(hub, origin)
    except DomainError as exc:
        return refused(exc, origin)
    except (HTTPException, MultiPartException, ValueError) as exc:
        # Starlette's answer to a form it cannot parse (a 5,000-character file name, a
        # missing boundary): the widget needs a code to translate, not Starlette's English.
        return answer(bad_form(exc), 400, origin)
    await hub.publish(
        events.to_conversation(
            resume.conversation,
            {"type": "message", "conversation": resume.conversation, "message": frame},
        )
    )
    return answer(
        {
            "type": "ack",
            "id": client_id,
            "message_id": result.message_id,
            "duplicate": result.duplicate,
            "message": frame,
        },
        201,
        origin,
    )


def _oversized(hub: ChatHub, origin: str | None) -> Response:
    oversized = too_large(hub.settings, "the file")
    return answer({"error": str(oversized), "code": oversized.code}, 413, origin)


async def _store_upload(
    hub: ChatHub, resume: Resume, site: Site, client_id: str, text: str, attachment: InboundFile
) -> tuple[dict[str, Any], IngestResult]:
    async with hub.runtime.db.transaction() as session:
        conversation = await service.find(session, resume.conversation)
    if conversation is not None and conversation.status == ConversationStatus.ENDED:
        raise ChatInvalid("conversation_ended", "conversation", "this chat has ended")
    sender = (
        SenderIdentity("wallet", resume.user_id, verified=True)
        if resume.user_id
        else SenderIdentity("webchat", resume.visitor)
    )
    result = await ingest(
        hub.runtime.db,
        InboundMessage(
            channel=CHANNEL,
            external_id=external_id(resume.conversation, client_id),
            sender=sender,
            text=text,
            thread_key=resume.conversation,
            attachments=(attachment,),
        ),
        open_new=conversation is None or conversation.ticket_id is None,
        files=hub.runtime.files,
    )
    async with hub.runtime.db.transaction() as session:
        await service.record_customer_ticket(
            session,
            public_id=resume.conversation,
            site_id=site.id,
            visitor=resume.visitor,
            sender=sender,
            locale=None,
            ticket_id=result.ticket_id,
        )
        stored = await session.get(Message, result.message_id)
        assert stored is not None
        frame = (await frames_for(session, [stored], conversation=resume.conversation))[0]
    return frame, result


@router.get("/api/attachments/{attachment_id}", response_class=Response)
async def customer_attachment(
    request: Request,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)],
    token: Annotated[str, Query(max_length=600)],
    inline: bool = False,
) -> Response:
    """A file of the customer's own conversation (the token proves which one)."""
    hub = hub_of(request.app)
    try:
        resume, _site, _origin = await resume_from_token(request, token)
        async with hub.runtime.db.transaction() as session:
            row = (await session.execute(_attachment_query(attachment_id))).first()
            if row is None:
                raise NotFound(f"no attachment {attachment_id}")
            attachment, message = row
            conversation = await service.find(session, resume.conversation)
            if conversation is None or not await _in_conversation(session, conversation, message):
                raise NotFound(f"no attachment {attachment_id}")
    except DomainError as exc:
        return refused(exc, None)
    data = await hub.runtime.files.get(attachment.storage_key)
    response = attachment_response(attachment, data, inline=inline)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _attachment_query(attachment_id: int) -> Any:
    return (
        select(Attachment, Message)
        .join(Message, Message.id == Attachment.message_id)
        .where(Attachment.id == attachment_id)
    )


async def _in_conversation(
    session: AsyncSession, conversation: Conversation, message: Message
) -> bool:
    if message.internal:
        return False
    prefix = conversation.public_id + ":"
    if message.channel == CHANNEL and (message.external_id or "").startswith(prefix):
        return True
    linked = await session.scalar(
        select(ConversationTicket.ticket_id).where(
            ConversationTicket.conversation_id == conversation.id,
            ConversationTicket.ticket_id == message.ticket_id,
        )
    )
    return linked is not None


@router.options("/api/history", include_in_schema=False)
async def history_preflight(request: Request) -> Response:
    return preflight(request)


@router.get("/api/history")
async def history(
    request: Request,
    token: Annotated[str, Query(max_length=600)],
    after: Annotated[int, Query(ge=0, le=MAX_BIGINT_ID)] = 0,
) -> Response:
    """The conversation's messages after `after` (what a reconnecting client missed)."""
    origin = request.headers.get("origin")
    hub = hub_of(request.app)
    try:
        resume, _site, origin = await resume_from_token(request, token)
        async with hub.runtime.db.transaction() as session:
            conversation = await service.find(session, resume.conversation)
            messages, more = (
                await conversation_messages(
                    session, conversation, after=after, limit=hub.settings.history_limit
                )
                if conversation
                else ([], False)
            )
    except DomainError as exc:
        return refused(exc, origin)
    return answer({"messages": messages, "more": more}, origin=origin)
