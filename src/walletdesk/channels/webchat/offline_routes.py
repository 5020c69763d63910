"""Leave a message: when no agent is online or the site is closed, the form opens a ticket.

Only for a visitor without a conversation yet: a customer already in a chat leaves their
message and address on that chat (the widget sends a chat message and a `contact` frame),
so the chat's ticket gets them and no second ticket is opened.

The message goes through ingest() like any other, from the email or phone number given
(at least one is required), and is answered there. The form's client id makes a resend
harmless; each address may send a few a minute.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from walletdesk.channels.webchat.cross_origin import (
    answer,
    preflight,
    refused,
    request_ip,
    site_for_origin,
)
from walletdesk.channels.webchat.frames import ClientId
from walletdesk.channels.webchat.history import CHANNEL
from walletdesk.channels.webchat.hubs import hub_of
from walletdesk.channels.webchat.protocol import ChatInvalid
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.identities import normalize_email, normalize_phone
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import DomainError, InvalidInput
from walletdesk.core.ingest import ingest
from walletdesk.core.text import StoredText

router = APIRouter()


class OfflineMessage(BaseModel):
    id: ClientId = Field(default_factory=lambda: uuid.uuid4().hex)
    name: StoredText = Field(default="", max_length=100)
    email: StoredText = Field(default="", max_length=320)
    phone: StoredText = Field(default="", max_length=40)
    message: StoredText = Field(min_length=1)
    locale: StoredText | None = Field(default=None, max_length=10)


@router.options("/api/offline", include_in_schema=False)
async def offline_preflight(request: Request) -> Response:
    return preflight(request)


@router.post("/api/offline")
async def leave_message(request: Request, site: Annotated[str, Query(max_length=40)]) -> Response:
    """No agent online or outside hours: the message becomes a ticket, answered by email."""
    origin = request.headers.get("origin")
    try:
        the_site, origin = await site_for_origin(request, site)
        hub = hub_of(request.app)
        if not hub.ip_limits.window(
            f"offline:{request_ip(request)}", hub.settings.offline_messages_per_minute
        ).hit():
            return answer(
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
        return refused(exc, origin)
    return answer({"ticket": result.ticket_number, "duplicate": result.duplicate}, 201, origin)
