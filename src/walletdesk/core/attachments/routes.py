"""Downloading an attachment: only for whoever may see its ticket, never rendered as a page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.service import attachment_for_agent, safe_to_show_inline
from walletdesk.http.deps import ApiActor, RuntimeDep

router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


def attachment_response(attachment: Attachment, data: bytes, *, inline: bool) -> Response:
    """The bytes with headers that stop a browser from running or sniffing them."""
    disposition = "inline" if inline and safe_to_show_inline(attachment) else "attachment"
    return Response(
        content=data,
        media_type=attachment.content_type
        if disposition == "inline"
        else "application/octet-stream",
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=300",
        },
    )


@router.get("/{attachment_id}", response_class=Response)
async def download(
    attachment_id: int,
    actor: ApiActor,
    runtime: RuntimeDep,
    inline: Annotated[bool, Query(description="Show a raster image in the browser")] = False,
) -> Response:
    async with runtime.db.transaction() as session:
        attachment = await attachment_for_agent(session, actor, attachment_id)
    return attachment_response(
        attachment, await runtime.files.get(attachment.storage_key), inline=inline
    )
