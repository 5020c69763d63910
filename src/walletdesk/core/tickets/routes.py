"""REST API for tickets. Thin: parse, authorise (via the service's scoping), call, shape."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.service import MAX_ATTACHMENTS_PER_MESSAGE, attachments_of
from walletdesk.core.attachments.uploads import attach_files, read_uploads
from walletdesk.core.channels import Attachment as FileIn
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.models import IdentityKind
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.core.tickets import queries, service
from walletdesk.core.tickets.models import Message, MessageRow, Status, Ticket
from walletdesk.core.tickets.schemas import (
    AttachmentOut,
    EscalateIn,
    MessageCreate,
    MessageForm,
    MessageOut,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketPage,
    TicketUpdate,
)
from walletdesk.db import MAX_INT_ID
from walletdesk.http.deps import ApiActor, RuntimeDep
from walletdesk.http.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=ERROR_RESPONSES)


async def _out(session: AsyncSession, ticket: Ticket) -> TicketOut:
    tags = await queries.ticket_tag_names(session, [ticket.id])
    return TicketOut.model_validate(ticket).model_copy(update={"tags": tags[ticket.id]})


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        inline=attachment.inline,
        url=f"/api/v1/attachments/{attachment.id}",
    )


async def messages_out(
    session: AsyncSession, messages: Sequence[Message | MessageRow]
) -> list[MessageOut]:
    """The messages with their attachments, read in one query for them all."""
    files = await attachments_of(session, [m.id for m in messages])
    return [
        MessageOut.model_validate(m).model_copy(
            update={"attachments": [attachment_out(a) for a in files[m.id]]}
        )
        for m in messages
    ]


async def _detail(session: AsyncSession, actor: Actor, number: str) -> TicketDetail:
    ticket = await queries.get_ticket(session, actor, number)
    messages = await queries.ticket_messages(session, ticket.id)
    base = await _out(session, ticket)
    return TicketDetail(**base.model_dump(), messages=await messages_out(session, messages))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketDetail)
async def create_ticket(
    body: TicketCreate,
    actor: ApiActor,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TicketDetail:
    """Open a ticket for a customer. Repeat a request with the same `Idempotency-Key` safely."""
    customer = body.customer
    identities = []
    if customer.email:
        identities.append(SenderIdentity(IdentityKind.EMAIL, customer.email, customer.name or ""))
    if customer.phone:
        identities.append(SenderIdentity(IdentityKind.PHONE, customer.phone, customer.name or ""))
    inbound = InboundMessage(
        channel="api",
        external_id=f"{actor.agent_id}:{idempotency_key or uuid.uuid4().hex}",
        sender=identities[0],
        also_known_as=tuple(identities[1:]),
        subject=body.subject,
        text=body.body,
        category=body.category,
        priority=body.priority,
        locale=body.locale,
    )
    result = await runtime.intake.ingest(inbound, open_new=True, submitted_by=actor)
    if result.ticket is not None and result.message is not None:
        # Answer from the rows just committed: a new ticket has no tags and one message.
        return TicketDetail(
            **TicketOut.model_validate(result.ticket).model_dump(),
            messages=[MessageOut.model_validate(result.message)],
        )
    async with runtime.db.transaction() as session:  # a repeated Idempotency-Key
        return await _detail(session, actor, result.ticket_number)


@router.get("", response_model=TicketPage)
async def list_tickets(
    actor: ApiActor,
    runtime: RuntimeDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    assignee: Annotated[str | None, Query(description="an agent id, `me` or `none`")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = queries.PAGE_SIZE,
) -> TicketPage:
    assignee_id: int | None = None
    unassigned = False
    if assignee == "me":
        assignee_id = actor.agent_id
    elif assignee == "none":
        unassigned = True
    elif assignee:
        if not (assignee.isascii() and assignee.isdigit()) or int(assignee) > MAX_INT_ID:
            raise InvalidInput("assignee", "an agent id, `me` or `none`")
        assignee_id = int(assignee)
    filters = queries.InboxFilter(
        status=status_,
        tier=tier,
        channel=channel,
        assignee_id=assignee_id,
        unassigned=unassigned,
        q=q,
    )
    async with runtime.db.transaction() as session:
        page = await queries.list_tickets(session, actor, filters, cursor=cursor, limit=limit)
        tags = await queries.ticket_tag_names(session, [t.id for t in page.tickets])
        return TicketPage(
            tickets=[
                TicketOut.model_validate(t).model_copy(update={"tags": tags[t.id]})
                for t in page.tickets
            ],
            next_cursor=page.next_cursor,
        )


@router.get("/{number}", response_model=TicketDetail)
async def get_ticket(number: str, actor: ApiActor, runtime: RuntimeDep) -> TicketDetail:
    async with runtime.db.transaction() as session:
        return await _detail(session, actor, number)


@router.patch("/{number}", response_model=TicketOut)
async def update_ticket(
    number: str, body: TicketUpdate, actor: ApiActor, runtime: RuntimeDep
) -> TicketOut:
    """Change status, priority, category, assignee (null unassigns) or the whole tag set."""
    changes = service.TicketChanges()
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None and field != "assignee_id":
            raise InvalidInput(field, "must not be null")
        setattr(changes, field, value)
    async with runtime.db.transaction() as session:
        ticket = await queries.get_ticket(session, actor, number, for_update=True)
        await service.update_ticket(session, actor, ticket, changes)
        return await _out(session, ticket)


@dataclass(frozen=True, slots=True)
class PostedMessage:
    message: MessageCreate
    files: list[FileIn]


def _invalid(exc: ValidationError) -> RequestValidationError:
    # Named as FastAPI names a body's fields, so errors read as for any other route.
    return RequestValidationError(
        [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
    )


async def posted_message(request: Request) -> PostedMessage:
    """The reply as JSON (MessageCreate) or as multipart/form-data with `files` parts."""
    content_type = request.headers.get("content-type", "").lower()
    try:
        if not content_type.startswith("multipart/form-data"):
            return PostedMessage(MessageCreate.model_validate_json(await request.body()), [])
    except ValidationError as exc:
        raise _invalid(exc) from None
    form = await request.form(max_files=MAX_ATTACHMENTS_PER_MESSAGE + 1, max_fields=10)
    try:
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key == "files":
                continue
            if not isinstance(value, str) or key in fields:
                fields[key] = [value]  # not one text value: MessageCreate refuses a list
            elif value or key == "body":
                fields[key] = value
        message = MessageCreate.model_validate(fields)
        return PostedMessage(message, await read_uploads(form.getlist("files")))
    except ValidationError as exc:
        raise _invalid(exc) from None
    finally:
        await form.close()  # the spooled temporary files of the parts


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # Status: in the document's components already (TicketOut)
    return schema


# The handler reads its body itself (JSON or multipart), so the document says what it takes.
_MESSAGE_BODIES = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _body_schema(MessageCreate)},
            "multipart/form-data": {"schema": _body_schema(MessageForm)},
        },
    }
}


@router.post(
    "/{number}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    openapi_extra=_MESSAGE_BODIES,
)
async def post_message(
    number: str,
    actor: ApiActor,  # before the body: nobody's files are read before their token is
    posted: Annotated[PostedMessage, Depends(posted_message)],
    runtime: RuntimeDep,
) -> MessageOut:
    """A public reply (delivered through the ticket's channel) or an internal note.

    Send JSON, or multipart/form-data with the same fields and one `files` part per file
    (at most 20, each at most 25 MiB, 25 MiB together; a file whose content contradicts
    its declared type is refused). The files are stored with the message and sent with an
    email reply.
    """
    body = posted.message
    async with runtime.db.transaction() as session:
        ticket = await queries.get_ticket(session, actor, number, for_update=True)
        message = await service.post_agent_message(
            session, actor, ticket, body=body.body, internal=body.internal, status=body.status
        )
        await attach_files(session, runtime.files, message.id, posted.files)
        return (await messages_out(session, [message]))[0]


@router.post("/{number}/escalate", response_model=TicketOut)
async def escalate(
    number: str, body: EscalateIn, actor: ApiActor, runtime: RuntimeDep
) -> TicketOut:
    """Move the ticket up one tier (L1 → L2 → L3) into that tier's queue."""
    async with runtime.db.transaction() as session:
        ticket = await queries.get_ticket(session, actor, number, for_update=True)
        await service.escalate_ticket(session, actor, ticket, body.reason)
        return await _out(session, ticket)
