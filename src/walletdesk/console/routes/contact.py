"""The contact page: who the customer is and every ticket they opened that the agent may see."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import CurrentAgent, RuntimeDep
from walletdesk.core.audit.service import record
from walletdesk.core.contacts.service import get_contact, identities_of
from walletdesk.core.errors import NotFound
from walletdesk.core.tickets.queries import tickets_of_contact

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


@router.get("/contacts/{contact_id:int}")
async def show_contact(
    request: Request, contact_id: int, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    lang = request_lang(request)
    async with runtime.db.transaction() as session:
        try:
            contact = await get_contact(session, contact_id)
        except NotFound:
            raise PageError(404, lang.gettext("There is no such customer.")) from None
        identities = await identities_of(session, contact_id)
        tickets = await tickets_of_contact(session, me.actor, contact_id)
        # Customer data is personal data: reading it is on the record.
        await record(session, me.actor, "contact.viewed", "contact", contact_id)
    return render(request, "contact.html", contact=contact, identities=identities, tickets=tickets)
