"""The customer side over HTTP: the widget's files, the chat socket, uploads, leave-a-message.

Everything here is called from the wallet's pages, another origin: answers carry CORS
headers for origins the site allows (errors too, so the widget can show them), and a
request from an origin the site does not allow is refused.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.formparsers import MultiPartException

from walletdesk.channels.webchat import events, service
from walletdesk.channels.webchat.customer_ws import customer_socket
from walletdesk.channels.webchat.frames import ClientId, valid_client_id
from walletdesk.channels.webchat.history import (
    CHANNEL,
    conversation_messages,
    external_id,
    frames_for,
)
from walletdesk.channels.webchat.hub import ChatHub
from walletdesk.channels.webchat.hubs import hub_of, started_hub
from walletdesk.channels.webchat.identity import Resume, read_resume_token
from walletdesk.channels.webchat.models import (
    Conversation,
    ConversationStatus,
    ConversationTicket,
)
from walletdesk.channels.webchat.protocol import (
    ChatForbidden,
    ChatInvalid,
    ChatNotFound,
    error_code,
)
from walletdesk.channels.webchat.sites import Site
from walletdesk.channels.webchat.suggestions import record_report, suggest
from walletdesk.channels.webchat.templates import render_page
from walletdesk.channels.webchat.uploads import checked_upload, too_large, upload_body_limit
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.routes import attachment_response
from walletdesk.core.channels import Attachment as InboundFile
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.identities import normalize_email, normalize_phone
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import DomainError, InvalidInput, NotFound
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.tickets.models import Message
from walletdesk.helpcenter.ratelimit import retry_after_for
from walletdesk.http.errors import status_for
from walletdesk.runtime import Runtime

STATIC = Path(__file__).parent / "static"
# Served files, by public name: nothing outside this list is reachable.
_FILES = {
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "agent-panel.js": "text/javascript; charset=utf-8",
    "agent-panel.css": "text/css; charset=utf-8",
}

router = APIRouter(prefix="/webchat", tags=["webchat"])


# --- helpers ---------------------------------------------------------------------------------


def _cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _answer(data: dict[str, Any], status: int = 200, origin: str | None = None) -> JSONResponse:
    headers = _cors(origin) | {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return JSONResponse(data, status_code=status, headers=headers)


def _refused(exc: DomainError, origin: str | None) -> JSONResponse:
    content: dict[str, Any] = {"error": str(exc), "code": error_code(exc)}
    if isinstance(exc, InvalidInput):
        content["fields"] = [{"field": exc.field, "message": exc.message}]
    return _answer(content, status_for(exc), origin)


async def _site_for_origin(request: Request, key: str) -> tuple[Site, str | None]:
    """The active site and the request's Origin, which it must allow when one is sent."""
    hub = hub_of(request.app)
    site = await hub.sites.get(key) if 0 < len(key) <= 40 else None
    return _usable(site, request.headers.get("origin"))


def _usable(site: Site | None, origin: str | None) -> tuple[Site, str | None]:
    if site is None:
        raise ChatNotFound("unknown_site", "no active chat site with this key")
    if not site.is_active:
        raise ChatForbidden("site_inactive", "this site's chat has been turned off")
    if origin is not None and not site.allows(origin):
        raise ChatForbidden(
            "origin_not_allowed", "this page's origin is not allowed for the chat site"
        )
    return site, origin


async def _resume(request: Request, token: str) -> tuple[Resume, Site, str | None]:
    runtime: Runtime = request.app.state.runtime
    resume = read_resume_token(runtime.settings.resolved_secret_key(), token)
    if resume is None:
        raise ChatForbidden("bad_token", "the chat token is not valid; reload the page")
    site, origin = _usable(
        await hub_of(request.app).sites.by_id(resume.site_id), request.headers.get("origin")
    )
    return resume, site, origin


def _preflight(request: Request) -> Response:
    # Which origins may call is decided on the real request (it knows the site); the
    # preflight only says which methods and headers exist.
    return Response(status_code=204, headers=_cors(request.headers.get("origin")))


# --- files -----------------------------------------------------------------------------------


@router.get("/widget.js", include_in_schema=False)
async def widget_script() -> Response:
    return _static("widget.js")


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    if name not in _FILES:
        return JSONResponse({"error": f"no file {name[:60]}"}, status_code=404)
    return _static(name)


def _static(name: str) -> Response:
    return FileResponse(
        STATIC / name,
        media_type=_FILES[name],
        headers={
            "Cache-Control": "public, max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/demo", include_in_schema=False, response_class=HTMLResponse)
async def demo_page(
    request: Request, site: Annotated[str, Query(max_length=40)] = "", locale: str = "zh-CN"
) -> HTMLResponse:
    """A host page with the snippet, to try a site's widget (its origin must be allowed)."""
    return render_page(
        "demo_host.html",
        site=site,
        locale="en" if locale == "en" else "zh-CN",
        base=str(request.base_url).rstrip("/"),
    )


# --- the chat socket -------------------------------------------------------------------------


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    """The customer's chat (protocol: docs/webchat-protocol.md)."""
    await customer_socket(websocket, await started_hub(websocket.app))


# --- leave a message ------------------------------------------------------------------------


class OfflineMessage(BaseModel):
    id: ClientId = Field(default_factory=lambda: uuid.uuid4().hex)
    name: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=320)
    phone: str = Field(default="", max_length=40)
    message: str = Field(min_length=1)
    locale: str | None = Field(default=None, max_length=10)


@router.options("/api/offline", include_in_schema=False)
async def offline_preflight(request: Request) -> Response:
    return _preflight(request)


@router.post("/api/offline")
async def leave_message(request: Request, site: Annotated[str, Query(max_length=40)]) -> Response:
    """No agent online or outside hours: the message becomes a ticket, answered by email."""
    origin = request.headers.get("origin")
    try:
        the_site, origin = await _site_for_origin(request, site)
        hub = hub_of(request.app)
        if not hub.ip_limits.window(
            f"offline:{_ip(request)}", hub.settings.offline_messages_per_minute
        ).hit():
            return _answer(
                {
                    "error": "too many messages from this address; try again in a minute",
                    "code": "rate_limited",
                },
                429,
                origin,
            )
        try:
            body = OfflineMessage.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise InvalidInput(field, str(first.get("msg", "invalid"))) from None
        if len(body.message) > hub.settings.max_text_chars:
            raise ChatInvalid(
                "too_large", "message", f"at most {hub.settings.max_text_chars} characters"
            )
        identities = []
        if body.email.strip():
            identities.append(SenderIdentity("email", normalize_email(body.email), body.name))
        if body.phone.strip():
            identities.append(SenderIdentity("phone", normalize_phone(body.phone), body.name))
        if not identities:
            raise ChatInvalid(
                "need_contact", "email", "give an email or a phone number to be answered on"
            )
        result = await ingest(
            hub.runtime.db,
            InboundMessage(
                channel=CHANNEL,
                external_id=f"offline:{the_site.id}:{body.id}",
                sender=identities[0],
                also_known_as=tuple(identities[1:]),
                text=body.message,
                locale=body.locale if body.locale in ("zh-CN", "en") else None,
            ),
            open_new=True,
        )
    except DomainError as exc:
        return _refused(exc, origin)
    return _answer({"ticket": result.ticket_number, "duplicate": result.duplicate}, 201, origin)


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _declared_length(request: Request) -> int:
    """The Content-Length the client sent, or 0 (none, or not a number: the parser decides)."""
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return 0


# --- attachments -----------------------------------------------------------------------------


@router.options("/api/uploads", include_in_schema=False)
async def upload_preflight(request: Request) -> Response:
    return _preflight(request)


@router.post("/api/uploads")
async def upload(request: Request) -> Response:
    """A file from the customer, as a chat message (multipart: token, id, file, text)."""
    origin = request.headers.get("origin")
    hub = hub_of(request.app)
    if not hub.ip_limits.window(f"upload:{_ip(request)}", 30).hit():
        return _answer(
            {"error": "too many uploads; try again in a minute", "code": "rate_limited"},
            429,
            origin,
        )
    # Refused before a byte of the body is read (a spooled 1 GB form would fill the disk first).
    # The site is not known yet: the answer names no more than the size.
    if _declared_length(request) > upload_body_limit(hub.settings):
        refused = too_large(hub.settings, "the file")
        return _answer({"error": str(refused), "code": refused.code}, 413, origin)
    try:
        async with request.form(max_files=1, max_fields=10, max_part_size=1024 * 1024) as form:
            token, client_id, text = (str(form.get(k) or "") for k in ("token", "id", "text"))
            resume, site, origin = await _resume(request, token)
            if not valid_client_id(client_id):
                raise InvalidInput("id", "a client message id of 1-64 letters, digits, - or _")
            if len(text) > hub.settings.max_text_chars:
                raise ChatInvalid(
                    "too_large", "text", f"at most {hub.settings.max_text_chars} characters"
                )
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise InvalidInput("file", "attach one file")
            data = await file.read(hub.settings.max_attachment_bytes + 1)
            attachment = checked_upload(
                hub.settings, file.filename or "", file.content_type or "", data
            )
        frame, result = await _store_upload(hub, resume, site, client_id, text, attachment)
    except DomainError as exc:
        return _refused(exc, origin)
    except (MultiPartException, ValueError) as exc:
        return _answer(
            {"error": f"not a valid upload form: {exc}", "code": "bad_form"}, 400, origin
        )
    await hub.publish(
        events.to_conversation(
            resume.conversation,
            {"type": "message", "conversation": resume.conversation, "message": frame},
        )
    )
    return _answer(
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
    attachment_id: int,
    token: Annotated[str, Query(max_length=600)],
    inline: bool = False,
) -> Response:
    """A file of the customer's own conversation (the token proves which one)."""
    hub = hub_of(request.app)
    try:
        resume, _site, _origin = await _resume(request, token)
        async with hub.runtime.db.transaction() as session:
            row = (await session.execute(_attachment_query(attachment_id))).first()
            if row is None:
                raise NotFound(f"no attachment {attachment_id}")
            attachment, message = row
            conversation = await service.find(session, resume.conversation)
            if conversation is None or not await _in_conversation(session, conversation, message):
                raise NotFound(f"no attachment {attachment_id}")
    except DomainError as exc:
        return _refused(exc, None)
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


# --- history and suggestions ------------------------------------------------------------------


@router.options("/api/history", include_in_schema=False)
async def history_preflight(request: Request) -> Response:
    return _preflight(request)


@router.get("/api/history")
async def history(
    request: Request,
    token: Annotated[str, Query(max_length=600)],
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The conversation's messages after `after` (what a reconnecting client missed)."""
    origin = request.headers.get("origin")
    hub = hub_of(request.app)
    try:
        resume, _site, origin = await _resume(request, token)
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
        return _refused(exc, origin)
    return _answer({"messages": messages, "more": more}, origin=origin)


@router.get("/api/suggestions")
async def suggestions(
    request: Request,
    site: Annotated[str, Query(max_length=40)],
    q: Annotated[str, Query(max_length=500)] = "",
    locale: Annotated[str, Query(max_length=10)] = "zh-CN",
) -> Response:
    """Help-center articles matching what the customer is typing, with the set's id."""
    origin = request.headers.get("origin")
    try:
        the_site, origin = await _site_for_origin(request, site)
    except DomainError as exc:
        return _refused(exc, origin)
    hub = hub_of(request.app)
    if not hub.ip_limits.window(f"suggest:{_ip(request)}", 120).hit():
        return _answer({"suggestions": []}, origin=origin)
    found = await suggest(hub.runtime, the_site.key, q, "en" if locale == "en" else "zh-CN")
    return _answer(found, origin=origin)


@router.options("/api/deflections", include_in_schema=False)
async def deflection_preflight(request: Request) -> Response:
    return _preflight(request)


@router.post("/api/deflections")
async def deflection(request: Request, site: Annotated[str, Query(max_length=40)]) -> Response:
    """What the customer did with suggestions before a chat: shown, opened, solved, sent anyway."""
    origin = request.headers.get("origin")
    try:
        _site, origin = await _site_for_origin(request, site)
        # The help center's public limit: one budget per address with its own endpoints.
        if wait := retry_after_for(request):
            response = _answer(
                {"error": "too many requests; retry later", "code": "rate_limited"}, 429, origin
            )
            response.headers["Retry-After"] = str(wait)
            return response
        await record_report(hub_of(request.app).runtime, request)
    except DomainError as exc:
        return _refused(exc, origin)
    return _answer({"status": "recorded"}, 201, origin)
