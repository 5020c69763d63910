"""Checking and storing attachments, and reading them back for people allowed to see them."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import puremagic
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.storage import AttachmentStore
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.db import utcnow

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS_PER_MESSAGE = 20

# Types a browser would run or render as a page: never served as such, only as a download.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/javascript",
        "text/javascript",
    }
)


def sniff_type(data: bytes) -> str:
    """What the bytes are, from their content; plain text if they decode as UTF-8."""
    try:
        sniffed: str = puremagic.from_string(data, mime=True)
    except (puremagic.PureError, ValueError):
        sniffed = ""
    if sniffed:
        return sniffed
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def _type_family(content_type: str) -> str:
    return content_type.split("/", 1)[0].lower()


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    return name.strip(" .")[:255] or "attachment"


def check_declared_type(declared: str, sniffed: str) -> None:
    """Refuse a file whose content contradicts its declared type (an "image" that is HTML)."""
    declared = declared.lower().split(";")[0].strip()
    if not declared or declared == "application/octet-stream":
        return
    if sniffed in ACTIVE_TYPES and declared not in ACTIVE_TYPES:
        raise InvalidInput("attachment", f"declared {declared} but the content is {sniffed}")
    if _type_family(declared) == "image" and _type_family(sniffed) != "image":
        raise InvalidInput("attachment", f"declared {declared} but the content is {sniffed}")


async def store_attachment(
    session: AsyncSession,
    files: AttachmentStore,
    *,
    message_id: int,
    filename: str,
    declared_type: str,
    data: bytes,
    inline: bool = False,
    content_id: str | None = None,
    strict_type: bool = True,
) -> int:
    """Check, store and record one file; returns the attachment id.

    `strict_type=False` records a mismatching file instead of refusing it (email: the
    message must not be lost because a client mislabelled a file); it is then only ever
    served as a download of its sniffed type.
    """
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput("attachment", f"{filename}: larger than {MAX_ATTACHMENT_BYTES} bytes")
    sniffed = sniff_type(data)
    if strict_type:
        check_declared_type(declared_type, sniffed)
    key = await files.put(data)
    attachment_id = await session.scalar(
        insert(Attachment)
        .values(
            message_id=message_id,
            filename=clean_filename(filename),
            content_type=sniffed,
            declared_type=declared_type[:100],
            size=len(data),
            sha256=key,
            storage_key=key,
            inline=inline,
            content_id=content_id,
            created_at=utcnow(),
        )
        .returning(Attachment.id)
    )
    return int(attachment_id or 0)


async def attachments_of(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    if not message_ids:
        return {}
    rows = (
        await session.scalars(
            select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.id)
        )
    ).all()
    found: dict[int, list[Attachment]] = {mid: [] for mid in message_ids}
    for row in rows:
        found[row.message_id].append(row)
    return found


def safe_to_show_inline(attachment: Attachment) -> bool:
    """Raster images may be shown in a page; everything else is a download."""
    return attachment.content_type in {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def attachment_for_agent(
    session: AsyncSession, actor: Actor, attachment_id: int
) -> Attachment:
    """The attachment, if the actor may see its ticket (NotFound or PermissionDenied if not)."""
    row = (
        await session.execute(
            select(Attachment, Ticket.number)
            .join(Message, Message.id == Attachment.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Attachment.id == attachment_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    attachment, number = row
    await get_ticket(session, actor, number)
    return attachment
