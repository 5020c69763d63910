"""Outbox job: deliver an agent's public reply through the ticket's channel adapter."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.agents.models import Agent
from walletdesk.core.channels import (
    ChannelRegistry,
    OutboundMessage,
    PermanentDeliveryError,
)
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.tickets.delivery import record_delivery
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.db import Database


class DeliverMessage:
    """Runs outside any transaction: reads what to send, sends, and leaves recording to `record`."""

    def __init__(self, db: Database, channels: ChannelRegistry) -> None:
        self.db = db
        self.channels = channels

    async def run(self, job: OutboxJob) -> str | None:
        message_id = int(job.payload["message_id"])
        async with self.db.transaction() as session:
            outbound = await self._outbound(session, message_id, job.idempotency_key)
        adapter = self.channels.get(outbound.channel)
        if adapter is None:
            raise PermanentDeliveryError(
                f"channel {outbound.channel!r} has no adapter on this server",
                reason="not_configured",
            )
        result = await adapter.send(outbound)
        return result.external_id

    async def _outbound(
        self, session: AsyncSession, message_id: int, idempotency_key: str
    ) -> OutboundMessage:
        row = (
            await session.execute(
                select(Message, Ticket)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Message.id == message_id)
            )
        ).first()
        if row is None:
            raise PermanentDeliveryError(f"message {message_id} no longer exists", reason="gone")
        message, ticket = row
        identities = await session.execute(
            select(ContactIdentity.kind, ContactIdentity.value)
            .where(ContactIdentity.contact_id == ticket.contact_id)
            .order_by(ContactIdentity.verified.desc(), ContactIdentity.id)
        )
        recipients: dict[str, str] = {}
        for kind, value in identities:
            recipients.setdefault(kind, value)
        agent_name = ""
        if message.agent_id is not None:
            agent_name = (
                await session.scalar(select(Agent.name).where(Agent.id == message.agent_id)) or ""
            )
        return OutboundMessage(
            channel=ticket.channel,
            message_id=message.id,
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            subject=ticket.subject,
            text=message.body_text,
            html=message.body_html,
            thread_key=ticket.thread_key,
            recipients=recipients,
            agent_name=agent_name,
            idempotency_key=idempotency_key,
        )

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
        await record_delivery(
            session,
            int(job.payload["message_id"]),
            error=error,
            reason=reason,
            dead=dead,
            external_id=external_id,
        )
