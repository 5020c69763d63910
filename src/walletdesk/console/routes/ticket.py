"""The ticket page: conversation, reply box, side panel and the customer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.console.i18n import Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import ConsoleAgent, CurrentAgent, RuntimeDep
from walletdesk.core.agents.service import list_agents
from walletdesk.core.contacts.service import contact_names, get_contact, identities_of
from walletdesk.core.errors import NotFound, PermissionDenied
from walletdesk.core.tickets import lifecycle
from walletdesk.core.tickets.models import TIERS, Status, Ticket
from walletdesk.core.tickets.queries import get_ticket, ticket_messages, ticket_tag_names
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


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
    )


@router.get("/tickets/{number}")
async def show_ticket(
    request: Request, number: str, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    return await ticket_page(request, me, runtime, number)
