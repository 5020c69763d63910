"""The ticket page: conversation, reply box, side panel and the customer.

Also the files agents open from it: a message's attachments and an email's original,
checked against the signed-in agent's queues as the API's routes check a token's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.email.routes import eml_download
from walletdesk.channels.email.service import messages_with_originals, visible_email
from walletdesk.console.i18n import Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import ConsoleAgent, CurrentAgent, RuntimeDep
from walletdesk.core.agents.service import list_agents
from walletdesk.core.attachments.routes import attachment_response
from walletdesk.core.attachments.service import (
    MAX_ATTACHMENTS_PER_MESSAGE,
    attachment_for_agent,
    attachments_of,
    safe_to_show_inline,
)
from walletdesk.core.attachments.uploads import MAX_REPLY_FILES_BYTES
from walletdesk.core.contacts.service import contact_names, get_contact, identities_of
from walletdesk.core.errors import NotFound, PermissionDenied
from walletdesk.core.tickets import lifecycle
from walletdesk.core.tickets.models import TIERS, Message, Status, Ticket
from walletdesk.core.tickets.queries import get_ticket, ticket_messages, ticket_tag_names
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def file_size(size: int) -> str:
    """Bytes as agents read them: 812 B, 45.3 KB, 2.1 MB (units are the same in Chinese)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


async def emails_with_originals(session: AsyncSession, messages: Sequence[Message]) -> set[int]:
    """Which of these messages arrived by email with their original kept (one query)."""
    ids = [m.id for m in messages if m.channel == "email" and m.author_kind == "customer"]
    return await messages_with_originals(session, ids)


def next_statuses(current: str) -> list[str]:
    """The statuses a ticket may move to now, in the lifecycle's order."""
    return [s for s in Status if s != current and lifecycle.can_transition(current, s)]


async def load_ticket_for(
    session: AsyncSession, me: ConsoleAgent, number: str, lang: Lang, *, for_update: bool = False
) -> Ticket:
    """get_ticket with the refusal worded for the console."""
    try:
        return await get_ticket(session, me.actor, number, for_update=for_update)
    except PermissionDenied:
        message = lang.gettext(
            "Ticket %(number)s is in another tier's queue; you work the L%(tier)s queue.",
            number=number,
            tier=me.tier,
        )
        raise PageError(403, message) from None
    except NotFound:
        raise PageError(
            404, lang.gettext("There is no ticket %(number)s.", number=number)
        ) from None


async def ticket_page(
    request: Request,
    me: ConsoleAgent,
    runtime: Runtime,
    number: str,
    *,
    draft: str = "",
    draft_mode: str = "reply",
    status_code: int = 200,
) -> Response:
    lang = request_lang(request)
    async with runtime.db.transaction() as session:
        ticket = await load_ticket_for(session, me, number, lang)
        messages = await ticket_messages(session, ticket.id)
        tags = (await ticket_tag_names(session, [ticket.id]))[ticket.id]
        contact = await get_contact(session, ticket.contact_id)
        identities = await identities_of(session, contact.id)
        senders = await contact_names(
            session, {m.contact_id for m in messages if m.contact_id is not None}
        )
        agents = await list_agents(session)
        attachments = await attachments_of(session, [m.id for m in messages])
        originals = await emails_with_originals(session, messages)
    agent_names = {agent.id: agent.name for agent in agents}
    assignable = [a for a in agents if a.is_active and a.tier == ticket.tier]
    return render(
        request,
        "ticket.html",
        status_code=status_code,
        page_url=f"/console/tickets/{ticket.number}",
        ticket=ticket,
        messages=messages,
        tags=tags,
        contact=contact,
        identities=identities,
        senders=senders,
        agent_names=agent_names,
        assignable=assignable,
        next_statuses=next_statuses(ticket.status),
        can_reply=ticket.status != Status.CLOSED,
        can_escalate=ticket.tier < max(TIERS) and ticket.status != Status.CLOSED,
        draft=draft,
        draft_mode=draft_mode,
        attachments=attachments,
        originals=originals,
        file_size=file_size,
        shows_inline=safe_to_show_inline,
        max_files=MAX_ATTACHMENTS_PER_MESSAGE,
        max_files_size=file_size(MAX_REPLY_FILES_BYTES),
    )


@router.get("/tickets/{number}")
async def show_ticket(
    request: Request, number: str, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    return await ticket_page(request, me, runtime, number)


@router.get("/attachments/{attachment_id}")
async def attachment(
    attachment_id: int,
    me: CurrentAgent,
    runtime: RuntimeDep,
    inline: Annotated[bool, Query()] = False,
) -> Response:
    """A message's file, with the API's headers: raster images may show, nothing runs."""
    async with runtime.db.transaction() as session:
        found = await attachment_for_agent(session, me.actor, attachment_id)
    return attachment_response(found, await runtime.files.get(found.storage_key), inline=inline)


@router.get("/messages/{message_id}/original.eml")
async def original_email(message_id: int, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    """The email as it arrived, as a download; viewing it is audited as through the API."""
    async with runtime.db.transaction() as session:
        # The API route's own check and audit record, so both ways in behave alike.
        email, number = await visible_email(session, me.actor, message_id)
    return await eml_download(runtime, email, number)
