"""State of the email channel. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.email.models import Direction, EmailAutoReply, EmailMailbox, EmailMessage
from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import NotFound
from walletdesk.core.tickets.models import Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.db import insert_ignoring_conflicts, utcnow

AUTO_REPLY_WINDOW = timedelta(hours=1)
MAX_REFERENCES_SENT = 20

# The intake's statements, built once (see record_email and claim_auto_reply).
_EMAILS = cast(Table, EmailMessage.__table__)
_AUTO_REPLIES = cast(Table, EmailAutoReply.__table__)
_RECENT_AUTO_REPLIES = select(func.count(_AUTO_REPLIES.c.id)).where(
    _AUTO_REPLIES.c.recipient == bindparam("b_recipient"),
    _AUTO_REPLIES.c.created_at >= bindparam("b_since"),
)


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    ticket_id: int
    thread_root: str


async def find_thread(session: AsyncSession, message_ids: Sequence[str]) -> ThreadMatch | None:
    """The thread of the nearest of these Message-IDs that we sent or received."""
    if not message_ids:
        return None
    rows = (
        await session.execute(
            select(
                EmailMessage.message_id_header, EmailMessage.ticket_id, EmailMessage.thread_root
            ).where(EmailMessage.message_id_header.in_(list(message_ids)))
        )
    ).all()
    known = {row[0]: ThreadMatch(row[1], row[2]) for row in rows}
    for message_id in message_ids:
        if message_id in known:
            return known[message_id]
    return None


async def record_email(
    session: AsyncSession,
    *,
    message_id_header: str,
    ticket_id: int,
    direction: Direction,
    thread_root: str,
    message_id: int | None = None,
    raw_key: str | None = None,
    raw_size: int | None = None,
    full_text: str | None = None,
    spf: str | None = None,
    dkim: str | None = None,
    dmarc: str | None = None,
    auth_suspicious: bool = False,
) -> bool:
    """Remember one email by its Message-ID; False if it was already known."""
    inserted = await session.scalar(
        # Built once per dialect; each email only binds its values (the intake's hot path).
        insert_ignoring_conflicts(session, _EMAILS, _EMAILS.c.id),
        {
            "message_id_header": message_id_header,
            "ticket_id": ticket_id,
            "message_id": message_id,
            "direction": direction,
            "thread_root": thread_root,
            "raw_key": raw_key,
            "raw_size": raw_size,
            "full_text": full_text,
            "spf": spf,
            "dkim": dkim,
            "dmarc": dmarc,
            "auth_suspicious": auth_suspicious,
            "created_at": utcnow(),
        },
    )
    return inserted is not None


async def is_known(session: AsyncSession, message_id_header: str) -> bool:
    found = await session.scalar(
        select(EmailMessage.id).where(EmailMessage.message_id_header == message_id_header)
    )
    return found is not None


async def thread_of_ticket(session: AsyncSession, ticket_id: int) -> list[str]:
    """Message-IDs of a ticket's emails, oldest first: the References of our next reply."""
    ids = (
        await session.scalars(
            select(EmailMessage.message_id_header)
            .where(EmailMessage.ticket_id == ticket_id)
            .order_by(EmailMessage.id)
        )
    ).all()
    ids = list(ids)
    if len(ids) > MAX_REFERENCES_SENT:
        ids = ids[:1] + ids[-(MAX_REFERENCES_SENT - 1) :]
    return ids


async def latest_inbound(session: AsyncSession, ticket_id: int) -> str | None:
    return await session.scalar(
        select(EmailMessage.message_id_header)
        .where(EmailMessage.ticket_id == ticket_id, EmailMessage.direction == Direction.INBOUND)
        .order_by(EmailMessage.id.desc())
        .limit(1)
    )


async def replies_with_ids(session: AsyncSession, message_ids: Sequence[str]) -> list[int]:
    """Ticket messages (agent replies) that went out under these Message-IDs."""
    if not message_ids:
        return []
    found = await session.scalars(
        select(EmailMessage.message_id).where(
            EmailMessage.message_id_header.in_(list(message_ids)),
            EmailMessage.direction == Direction.REPLY,
            EmailMessage.message_id.is_not(None),
        )
    )
    return [int(i) for i in found.all() if i is not None]


async def claim_auto_reply(
    session: AsyncSession, *, in_reply_to: str, recipient: str, ticket_id: int, limit: int
) -> bool:
    """May we send an automatic reply to this email? Records it if so.

    No: when this email was answered already (a redelivery), or when the recipient got
    `limit` automatic replies within the last hour (RFC 3834's loop breaker: two
    auto-responders answering each other stop after a few rounds).
    """
    now = utcnow()
    recent = await session.scalar(
        _RECENT_AUTO_REPLIES, {"b_recipient": recipient, "b_since": now - AUTO_REPLY_WINDOW}
    )
    if (recent or 0) >= limit:
        return False
    inserted = await session.scalar(
        insert_ignoring_conflicts(session, _AUTO_REPLIES, _AUTO_REPLIES.c.id),
        {
            "in_reply_to": in_reply_to,
            "recipient": recipient,
            "ticket_id": ticket_id,
            "created_at": now,
        },
    )
    return inserted is not None


async def auto_replies_to(session: AsyncSession, recipient: str) -> int:
    count = await session.scalar(
        select(func.count(EmailAutoReply.id)).where(EmailAutoReply.recipient == recipient)
    )
    return int(count or 0)


# --- IMAP mailbox state ---------------------------------------------------------------------


async def claim_mailbox(
    session: AsyncSession, mailbox: str, poller_id: str, lease: timedelta
) -> EmailMailbox | None:
    """The mailbox's state, leased to this poller; None while another poller holds it."""
    await session.execute(
        insert_ignoring_conflicts(session, EmailMailbox).values(
            mailbox=mailbox, uid_validity=0, last_uid=0, updated_at=utcnow()
        )
    )
    now = utcnow()
    state = await session.scalar(
        select(EmailMailbox)
        .where(EmailMailbox.mailbox == mailbox)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert state is not None
    if state.claimed_by not in (None, poller_id) and _still_leased(state.lease_until, now):
        return None
    state.claimed_by = poller_id
    state.lease_until = now + lease
    state.updated_at = now
    await session.flush()
    return state


def _still_leased(lease_until: datetime | None, now: datetime) -> bool:
    return lease_until is not None and lease_until > now


async def advance_mailbox(
    session: AsyncSession, mailbox: str, poller_id: str, *, uid_validity: int, last_uid: int
) -> bool:
    """Record that everything up to `last_uid` is done; False if this poller lost its lease."""
    result = await session.execute(
        update(EmailMailbox)
        .where(EmailMailbox.mailbox == mailbox, EmailMailbox.claimed_by == poller_id)
        .values(uid_validity=uid_validity, last_uid=last_uid, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_mailbox(session: AsyncSession, mailbox: str, poller_id: str) -> None:
    await session.execute(
        update(EmailMailbox)
        .where(EmailMailbox.mailbox == mailbox, EmailMailbox.claimed_by == poller_id)
        .values(claimed_by=None, lease_until=None)
    )


async def emails_of_messages(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, EmailMessage]:
    """The email behind each of these ticket messages (for the console: verdicts, original)."""
    if not message_ids:
        return {}
    rows = await session.scalars(
        select(EmailMessage).where(EmailMessage.message_id.in_(list(message_ids)))
    )
    return {row.message_id: row for row in rows.all() if row.message_id is not None}


async def visible_email(
    session: AsyncSession, actor: Actor, message_id: int
) -> tuple[EmailMessage, str]:
    """The stored original of a customer's email and its ticket number, for whoever may see
    that ticket; the viewing is audited (an original may hold what the shield removed)."""
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


async def messages_with_originals(session: AsyncSession, message_ids: Sequence[int]) -> set[int]:
    """Which of these messages arrived by email with their original kept (one query)."""
    if not message_ids:
        return set()
    found = await session.scalars(
        select(EmailMessage.message_id).where(
            EmailMessage.message_id.in_(message_ids), EmailMessage.raw_key.is_not(None)
        )
    )
    return {message_id for message_id in found if message_id is not None}
