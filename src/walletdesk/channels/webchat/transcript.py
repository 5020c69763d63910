"""Outbox job: email a customer the transcript of their ended chat.

The customer asks with a `transcript` frame (service.request_transcript); this job reads
the chat's public messages (never internal notes), writes them as plain text and sends
them through the email channel. The request's internal note carries the delivery status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat import service
from walletdesk.channels.webchat.history import CHANNEL, in_conversation
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.core.agents.models import Agent
from walletdesk.core.channels import OutboundMessage, PermanentDeliveryError
from walletdesk.core.contacts.identities import normalize_email
from walletdesk.core.contacts.service import add_identity
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.outbox.service import enqueue
from walletdesk.core.tickets.delivery import record_delivery
from walletdesk.core.tickets.models import AuthorKind, Message, Ticket
from walletdesk.db import utcnow

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

TRANSCRIPT_JOB = "webchat_transcript"
IDEMPOTENCY_KEY_MAX = 80  # the outbox column's width


@dataclass(frozen=True, slots=True)
class TranscriptQueued:
    email: str
    duplicate: bool  # asked for this address before: nothing more is sent


def transcript_key(public_id: str, email: str) -> str:
    key = f"transcript:{public_id}:{email}"
    if len(key) <= IDEMPOTENCY_KEY_MAX:
        return key
    # A long address would not fit the outbox's key column: its digest names it as uniquely.
    prefix = f"transcript:{public_id}:#"
    return prefix + hashlib.sha256(email.encode()).hexdigest()[: IDEMPOTENCY_KEY_MAX - len(prefix)]


async def request_transcript(session: AsyncSession, public_id: str, email: str) -> TranscriptQueued:
    """The customer of an ended chat asks for its transcript by email.

    The address joins the contact (unverified), an internal note records the request, and
    the outbox job goes in the same transaction. The job's idempotency key is unique per
    conversation and address, so a repeat is caught in a savepoint (the note goes with it)
    and answered as already queued, while the rest of the transaction stands.
    """
    address = normalize_email(email)
    conversation = await service.find(session, public_id, for_update=True)
    if conversation is None:
        raise NotFound(f"no conversation {public_id}")
    if conversation.status != ConversationStatus.ENDED:
        raise InvalidInput("conversation", "a transcript is sent once the chat has ended")
    if conversation.ticket_id is None:
        raise InvalidInput("conversation", "this chat has no messages to send")
    contact_id = await session.scalar(
        select(Ticket.contact_id).where(Ticket.id == conversation.ticket_id)
    )
    if contact_id is None:
        raise NotFound("the conversation's ticket no longer exists")
    await add_identity(session, contact_id, "email", address)
    try:
        async with session.begin_nested():
            note_id = await session.scalar(
                insert(Message)
                .values(
                    ticket_id=conversation.ticket_id,
                    author_kind=AuthorKind.SYSTEM,
                    channel=CHANNEL,
                    internal=True,
                    body_text=f"Transcript requested to {address}",
                    created_at=utcnow(),
                )
                .returning(Message.id)
            )
            await enqueue(
                session,
                TRANSCRIPT_JOB,
                {"conversation": public_id, "email": address, "message_id": note_id},
                ticket_id=conversation.ticket_id,
                idempotency_key=transcript_key(public_id, address),
            )
    except IntegrityError:
        return TranscriptQueued(address, duplicate=True)
    return TranscriptQueued(address, duplicate=False)


SUBJECT = "聊天记录 / Chat transcript"
# Customers of a Chinese wallet read times in Beijing time, whatever the server runs on.
TRANSCRIPT_ZONE = ZoneInfo("Asia/Shanghai")
MAX_MESSAGES = 2000

LABELS = {
    "zh-CN": {
        "title": "聊天记录 · 工单号 {number}",
        "quote": "如需继续咨询，在任何渠道引用此工单号即可。",
        "customer": "客户",
        "agent": "客服",
        "system": "系统",
        "zone": "时间为北京时间。",
    },
    "en": {
        "title": "Chat transcript · ticket {number}",
        "quote": "To follow up, quote this ticket number on any channel.",
        "customer": "Customer",
        "agent": "Agent",
        "system": "System",
        "zone": "Times are China Standard Time (UTC+8).",
    },
}


@dataclass(frozen=True, slots=True)
class Line:
    at: datetime
    author: str  # customer | agent | system
    name: str
    text: str


def render_transcript(number: str, locale: str | None, lines: Sequence[Line]) -> str:
    """Plain text, the conversation's language first and the other one after the heading."""
    primary = "en" if locale == "en" else "zh-CN"
    other = "zh-CN" if primary == "en" else "en"
    words = LABELS[primary]
    out = [
        words["title"].format(number=number),
        words["quote"],
        LABELS[other]["title"].format(number=number) + " — " + LABELS[other]["quote"],
        words["zone"],
        "",
    ]
    for line in lines:
        who = words["customer"] if line.author == AuthorKind.CUSTOMER else line.name
        if not who:
            who = words["agent"] if line.author == AuthorKind.AGENT else words["system"]
        stamp = line.at.astimezone(TRANSCRIPT_ZONE).strftime("%Y-%m-%d %H:%M")
        out.append(f"[{stamp}] {who}:")
        out.extend("  " + part for part in line.text.splitlines() or [""])
        out.append("")
    return "\n".join(out).rstrip() + "\n"


async def transcript_lines(
    session: AsyncSession, conversation_id: str
) -> tuple[Ticket, str | None, list[Line]]:
    conversation = await service.find(session, conversation_id)
    if conversation is None or conversation.ticket_id is None:
        raise PermanentDeliveryError(
            f"conversation {conversation_id} no longer exists", reason="gone"
        )
    ticket = await session.get(Ticket, conversation.ticket_id)
    if ticket is None:
        raise PermanentDeliveryError("the conversation's ticket no longer exists", reason="gone")
    rows = await session.execute(
        select(Message, Agent.name)
        .outerjoin(Agent, Agent.id == Message.agent_id)
        .where(in_conversation(conversation))
        .order_by(Message.id)
        .limit(MAX_MESSAGES)
    )
    lines = [Line(m.created_at, m.author_kind, name or "", m.body_text) for m, name in rows]
    return ticket, conversation.locale or ticket.locale, lines


class SendTranscript:
    """Runs outside any transaction: reads the chat, sends, and leaves recording to `record`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run(self, job: OutboxJob) -> str | None:
        try:
            conversation_id = str(job.payload["conversation"])
            address = str(job.payload["email"])
            note_id = int(job.payload["message_id"])
        except (KeyError, TypeError, ValueError):
            raise PermanentDeliveryError("malformed transcript job", reason="internal") from None
        async with self.runtime.db.transaction() as session:
            ticket, locale, lines = await transcript_lines(session, conversation_id)
        email = self.runtime.channels.get("email")
        if email is None:
            raise PermanentDeliveryError(
                "no email channel on this server to send transcripts", reason="not_configured"
            )
        result = await email.send(
            OutboundMessage(
                channel="email",
                message_id=note_id,
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                subject=SUBJECT,
                text=render_transcript(ticket.number, locale, lines),
                html=None,
                thread_key=None,
                recipients={"email": address},
                idempotency_key=job.idempotency_key,
            )
        )
        return result.external_id

    async def record(
        self,
        session: AsyncSession,
        job: OutboxJob,
        *,
        error: str | None,
        reason: str | None,
        dead: bool,
        external_id: str | None,
    ) -> None:
        note_id = job.payload.get("message_id")
        if isinstance(note_id, int):
            await record_delivery(
                session, note_id, error=error, reason=reason, dead=dead, external_id=external_id
            )
