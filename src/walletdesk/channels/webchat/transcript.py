"""Outbox job: email a customer the transcript of their ended chat.

The customer asks with a `transcript` frame (service.request_transcript); this job reads
the chat's public messages (never internal notes), writes them as plain text and sends
them through the email channel. The request's internal note carries the delivery status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat import service
from walletdesk.channels.webchat.history import in_conversation
from walletdesk.core.agents.models import Agent
from walletdesk.core.channels import OutboundMessage, PermanentDeliveryError
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.tickets.delivery import record_delivery
from walletdesk.core.tickets.models import AuthorKind, Message, Ticket

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

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
        raise PermanentDeliveryError(f"conversation {conversation_id} no longer exists")
    ticket = await session.get(Ticket, conversation.ticket_id)
    if ticket is None:
        raise PermanentDeliveryError("the conversation's ticket no longer exists")
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
            raise PermanentDeliveryError("malformed transcript job") from None
        async with self.runtime.db.transaction() as session:
            ticket, locale, lines = await transcript_lines(session, conversation_id)
        email = self.runtime.channels.get("email")
        if email is None:
            raise PermanentDeliveryError("no email channel on this server to send transcripts")
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
        dead: bool,
        external_id: str | None,
    ) -> None:
        note_id = job.payload.get("message_id")
        if isinstance(note_id, int):
            await record_delivery(session, note_id, error=error, dead=dead, external_id=external_id)
