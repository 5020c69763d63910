"""REST API for contacts: who the customer is and every ticket they opened, on any channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from walletdesk.core.audit.service import record
from walletdesk.core.contacts import service
from walletdesk.core.contacts.schemas import ContactOut, IdentityOut
from walletdesk.core.tickets.queries import tickets_of_contact
from walletdesk.core.tickets.schemas import TicketOut
from walletdesk.db import MAX_INT_ID
from walletdesk.http.deps import ApiActor, RuntimeDep
from walletdesk.http.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"], responses=ERROR_RESPONSES)


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(
    contact_id: Annotated[int, Path(ge=1, le=MAX_INT_ID)], actor: ApiActor, runtime: RuntimeDep
) -> ContactOut:
    async with runtime.db.transaction() as session:
        contact = await service.get_contact(session, contact_id)
        identities = await service.identities_of(session, contact_id)
        tickets = await tickets_of_contact(session, actor, contact_id)
        # Customer data is personal data: reading it is on the record.
        await record(session, actor, "contact.viewed", "contact", contact_id)
        return ContactOut(
            id=contact.id,
            name=contact.name,
            locale=contact.locale,
            created_at=contact.created_at,
            identities=[IdentityOut.model_validate(i) for i in identities],
            tickets=[TicketOut.model_validate(t) for t in tickets],
        )
