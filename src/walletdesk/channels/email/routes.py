"""The original of an email (full text, sanitised HTML, the .eml) for whoever may see its ticket."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.email.models import EmailMessage
from walletdesk.channels.email.parsing import parse_email
from walletdesk.channels.email.schemas import AuthenticationOut, EmailOriginalOut
from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import NotFound
from walletdesk.core.tickets.models import Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.http.deps import ApiActor, RuntimeDep

router = APIRouter(prefix="/api/v1/email/messages", tags=["email"])


async def _visible_email(
    session: AsyncSession, actor: Actor, message_id: int
) -> tuple[EmailMessage, str]:
    row = (
        await session.execute(
            select(EmailMessage, Ticket.number)
            .join(Ticket, Ticket.id == EmailMessage.ticket_id)
            .where(EmailMessage.message_id == message_id)
        )
    ).first()
    if row is None or row[0].raw_key is None:
        raise NotFound(f"message {message_id} did not arrive by email")
    email, number = row
    await get_ticket(session, actor, number)  # raises unless the actor may see the ticket
    await record(session, actor, "email.original_viewed", "message", message_id, ticket=number)
    return email, number


@router.get("/{message_id}/original")
async def original(message_id: int, actor: ApiActor, runtime: RuntimeDep) -> EmailOriginalOut:
    """The email as it came, before quoted history and signature were cut."""
    async with runtime.db.transaction() as session:
        email, number = await _visible_email(session, actor, message_id)
    assert email.raw_key is not None
    raw = await runtime.files.get(email.raw_key)
    parsed = await asyncio.to_thread(parse_email, raw)
    return EmailOriginalOut(
        message_id=message_id,
        message_id_header=email.message_id_header,
        ticket_number=number,
        sender=parsed.from_address,
        sender_name=parsed.from_name,
        recipients=parsed.recipients,
        subject=parsed.subject,
        full_text=parsed.full_text,
        full_html=parsed.full_html,
        size=email.raw_size,
        authentication=AuthenticationOut(
            spf=email.spf, dkim=email.dkim, dmarc=email.dmarc, suspicious=email.auth_suspicious
        ),
    )


@router.get("/{message_id}/original.eml", response_class=Response)
async def original_eml(message_id: int, actor: ApiActor, runtime: RuntimeDep) -> Response:
    """The raw message, as a download (never rendered by the browser)."""
    async with runtime.db.transaction() as session:
        email, number = await _visible_email(session, actor, message_id)
    assert email.raw_key is not None
    return Response(
        content=await runtime.files.get(email.raw_key),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{number}-{message_id}.eml"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
