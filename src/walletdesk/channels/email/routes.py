"""The original of an email (full text, sanitised HTML, the .eml) for whoever may see its ticket."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response

from walletdesk.channels.email import service
from walletdesk.channels.email.models import EmailMessage
from walletdesk.channels.email.parsing import parse_email
from walletdesk.channels.email.schemas import AuthenticationOut, EmailOriginalOut
from walletdesk.http.deps import ApiActor, RuntimeDep

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

router = APIRouter(prefix="/api/v1/email/messages", tags=["email"])


@router.get("/{message_id}/original")
async def original(message_id: int, actor: ApiActor, runtime: RuntimeDep) -> EmailOriginalOut:
    """The email as it came, before quoted history and signature were cut."""
    async with runtime.db.transaction() as session:
        email, number = await service.visible_email(session, actor, message_id)
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
        email, number = await service.visible_email(session, actor, message_id)
    return await eml_download(runtime, email, number)


async def eml_download(runtime: Runtime, email: EmailMessage, number: str) -> Response:
    """An email's stored original as a file to save, never one the browser renders."""
    assert email.raw_key is not None  # visible_email answers NotFound without one
    return Response(
        content=await runtime.files.get(email.raw_key),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{number}-{email.message_id}.eml"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
