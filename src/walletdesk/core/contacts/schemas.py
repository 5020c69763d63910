"""The REST API's shapes for contacts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from walletdesk.core.tickets.schemas import TicketOut


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str
    verified: bool


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    locale: str | None
    created_at: datetime
    identities: list[IdentityOut]
    tickets: list[TicketOut]
