"""The agent side: the chat workspace page, its socket, and agents' chat files.

Pages are protected by the console's session (signed cookie) and go through its
ConsoleRoute: a missing sign-in redirects to the login page, security headers are set.
Uploads are forms with the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from walletdesk.channels.webchat.agent_ws import agent_socket
from walletdesk.channels.webchat.cross_origin import refused
from walletdesk.channels.webchat.frames import valid_client_id
from walletdesk.channels.webchat.hub import ChatHub
from walletdesk.channels.webchat.hubs import hub_of, started_hub
from walletdesk.channels.webchat.replies import Reply, post_reply
from walletdesk.channels.webchat.templates import render_page
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
from walletdesk.console.routing import ConsoleRoute
from walletdesk.console.session import CurrentAgent, console_session, form_text, posted_form
from walletdesk.core.actors import Actor
from walletdesk.core.attachments.routes import attachment_response
from walletdesk.core.attachments.service import attachment_for_agent
from walletdesk.core.errors import DomainError, InvalidInput
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.db import MAX_BIGINT_ID

router = APIRouter(prefix="/console/chat", route_class=ConsoleRoute, include_in_schema=False)
socket_router = APIRouter(prefix="/console/chat", include_in_schema=False)

TITLES = {"zh-CN": "在线聊天 · WalletDesk", "en": "Live chat · WalletDesk"}


@router.get("/", response_class=HTMLResponse)
async def workspace(request: Request, me: CurrentAgent) -> Response:
    locale = me.locale if me.locale in TITLES else "zh-CN"
    return render_page(
        "agent_page.html",
        title=TITLES[locale],
        locale=locale,
        csrf=console_session(request).csrf,
        me=me,
        mode="workspace",
        ticket=None,
    )


@router.get("/tickets/{number}", response_class=HTMLResponse)
async def ticket_chat(request: Request, me: CurrentAgent, number: str) -> Response:
    """The chat of one ticket on its own page (what the ticket page embeds)."""
    async with hub_of(request.app).runtime.db.transaction() as session:
        await get_ticket(session, me.actor, number)  # 404 or 403 before anything shows
    locale = me.locale if me.locale in TITLES else "zh-CN"
    return render_page(
        "agent_page.html",
        title=f"{number} · {TITLES[locale]}",
        locale=locale,
        csrf=console_session(request).csrf,
        me=me,
        mode="ticket",
        ticket=number,
    )


@socket_router.websocket("/ws")
async def agent_chat_socket(websocket: WebSocket) -> None:
    """The agents' live chat socket (protocol: docs/webchat-protocol.md)."""
    await agent_socket(websocket, await started_hub(websocket.app))


@router.post("/uploads")
async def agent_upload(request: Request, me: CurrentAgent) -> Response:
    """A file the agent sends in a chat (form: csrf, conversation, id, text, file).

    Refused answers carry the chat protocol's `code` (`too_large`, `bad_file`, `bad_form`,
    `bad_field`…) for the panel to translate.
    """
    hub = hub_of(request.app)
    # Like the customer's uploads: an oversized body is refused from its Content-Length
    # before it is read, and one without a length is read only up to the same limit.
    limit = upload_body_limit(hub.settings)
    if declared_length(request) > limit:
        return _oversized(hub)
    form_request = capped(request, limit)
    try:
        # Parsed here, inside `async with`, so the upload's temporary file is closed
        # whatever happens; the console's CSRF check then reads the same (cached) form.
        async with form_request.form(max_files=1, max_fields=10) as form:
            try:
                await posted_form(form_request)  # a NUL in a field: InvalidInput, below
                reply = await _agent_file(hub, me.actor, form)
            except DomainError as exc:
                # The customer side's shape: {error, code, fields}.
                return refused(exc, None)
    except BodyTooLarge:
        return _oversized(hub)
    except (HTTPException, MultiPartException) as exc:
        return JSONResponse(bad_form(exc), status_code=400)
    return JSONResponse(
        {"message_id": reply.message_id, "duplicate": reply.duplicate}, status_code=201
    )


def _oversized(hub: ChatHub) -> Response:
    oversized = too_large(hub.settings, "the file")
    return JSONResponse({"error": str(oversized), "code": oversized.code}, status_code=413)


async def _agent_file(hub: ChatHub, actor: Actor, form: FormData) -> Reply:
    client_id = form_text(form, "id")
    if not valid_client_id(client_id):
        raise InvalidInput("id", "a client message id of 1-64 letters, digits, - or _")
    # Refused past the limit, never cut: the customer side does the same.
    text = checked_text(hub.settings, form_text(form, "text"))
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise InvalidInput("file", "attach one file")
    data = await file.read(hub.settings.max_attachment_bytes + 1)
    attachment = checked_upload(hub.settings, file.filename or "", file.content_type or "", data)
    async with hub.runtime.db.transaction() as session:
        return await post_reply(
            session,
            actor,
            form_text(form, "conversation"),
            client_id=client_id,
            text=text,
            attachment=attachment,
            files=hub.runtime.files,
        )


@router.get("/attachments/{attachment_id}", response_class=Response)
async def agent_attachment(
    request: Request,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)],
    me: CurrentAgent,
    inline: Annotated[bool, Query()] = False,
) -> Response:
    """A chat file, for agents who may see its ticket; never rendered as a page."""
    hub = hub_of(request.app)
    async with hub.runtime.db.transaction() as session:
        attachment = await attachment_for_agent(session, me.actor, attachment_id)
    data = await hub.runtime.files.get(attachment.storage_key)
    return attachment_response(attachment, data, inline=inline)
