"""The single entrance for inbound messages from every channel.

ingest() is idempotent on (channel, external id): a redelivered message, even one
arriving twice at the same moment, is stored once. In one transaction it resolves the
contact, finds or opens the ticket, shields secrets and stores the message; the live
event goes out after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nh3
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.attachments.service import MAX_ATTACHMENTS_PER_MESSAGE, store_attachment
from walletdesk.core.attachments.storage import AttachmentStore
from walletdesk.core.audit.service import record
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import add_identity, resolve_contact
from walletdesk.core.errors import InvalidInput
from walletdesk.core.group_commit import GroupCommit
from walletdesk.core.tickets.intake import (
    add_customer_message,
    open_ticket,
    ticket_numbered,
    ticket_owning_thread,
)
from walletdesk.core.tickets.models import Message, MessageRow, Status, Ticket, TicketRow
from walletdesk.core.tickets.numbers import find_ticket_numbers
from walletdesk.db import Database
from walletdesk.security.shield import shield_text

SUBJECT_FROM_TEXT_CHARS = 80


@dataclass(frozen=True, slots=True)
class IngestResult:
    ticket_id: int
    ticket_number: str
    message_id: int
    created_ticket: bool
    duplicate: bool = False
    # The stored rows as they were committed (None for a duplicate): callers answering
    # at once (the API) need not read them back.
    ticket: TicketRow | None = None
    message: MessageRow | None = None
    # The sender's contact (None for a duplicate): a chat keeps it for its next messages.
    contact_id: int | None = None


class _AlreadyStored(Exception):
    pass


async def ingest(
    db: Database,
    inbound: InboundMessage,
    *,
    open_new: bool = False,
    files: AttachmentStore | None = None,
    submitted_by: Actor | None = None,
) -> IngestResult:
    """Store one inbound message; `open_new` always opens a ticket (the API's "create ticket").

    Attachments need `files`, the node's attachment store (runtime.files). `submitted_by`
    is the agent or integration that handed the message in on the customer's behalf: a
    ticket it opens is on their audit record.
    """
    _check(inbound, files)
    # No look-up first: redeliveries are rare, so the unique (channel, external_id) decides
    # at the message INSERT, and a duplicate's transaction is rolled back whole.
    try:
        async with db.transaction() as session:
            return await _store(
                session, inbound, open_new=open_new, files=files, submitted_by=submitted_by
            )
    except _AlreadyStored:
        earlier = await _already_stored(db, inbound)
        assert earlier is not None
        return earlier


def _check(inbound: InboundMessage, files: AttachmentStore | None) -> None:
    if not inbound.external_id:
        raise InvalidInput("external_id", "every inbound message needs the platform's id")
    if not inbound.text.strip() and not inbound.attachments:
        raise InvalidInput("body", "must not be empty")
    if inbound.attachments and files is None:
        raise ValueError("ingest() of a message with attachments needs the attachment store")
    if len(inbound.attachments) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise InvalidInput("attachments", f"at most {MAX_ATTACHMENTS_PER_MESSAGE} per message")


@dataclass(frozen=True, slots=True)
class _Intake:
    inbound: InboundMessage
    open_new: bool
    submitted_by: Actor | None


class IngestQueue:
    """ingest() for a busy node: messages that arrive together share one transaction.

    Same rules and results as ingest(); each message still takes its own statements, but
    BEGIN, COMMIT and the connection are paid once per batch (see core/group_commit.py).
    A redelivered message fails its batch, which is then written item by item.
    """

    def __init__(self, db: Database, files: AttachmentStore) -> None:
        self.db = db
        self.files = files
        self._commit: GroupCommit[_Intake, IngestResult] = GroupCommit(
            # Two batches at once: new tickets of different customers need no order.
            db,
            self._write,
            max_batch=50,
            writers=2,
        )

    async def ingest(
        self,
        inbound: InboundMessage,
        *,
        open_new: bool = False,
        submitted_by: Actor | None = None,
    ) -> IngestResult:
        _check(inbound, self.files)
        try:
            return await self._commit.submit(_Intake(inbound, open_new, submitted_by))
        except _AlreadyStored:
            earlier = await _already_stored(self.db, inbound)
            assert earlier is not None
            return earlier

    async def _write(self, session: AsyncSession, items: Sequence[_Intake]) -> list[IngestResult]:
        return [
            await _store(
                session,
                item.inbound,
                open_new=item.open_new,
                files=self.files,
                submitted_by=item.submitted_by,
            )
            for item in items
        ]

    async def close(self) -> None:
        await self._commit.close()


async def _already_stored(db: Database, inbound: InboundMessage) -> IngestResult | None:
    async with db.transaction() as session:
        row = (
            await session.execute(
                select(Message.id, Ticket.id, Ticket.number)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(
                    Message.channel == inbound.channel, Message.external_id == inbound.external_id
                )
            )
        ).first()
    if row is None:
        return None
    return IngestResult(row[1], row[2], row[0], created_ticket=False, duplicate=True)


async def _store(
    session: AsyncSession,
    inbound: InboundMessage,
    *,
    open_new: bool,
    files: AttachmentStore | None,
    submitted_by: Actor | None,
) -> IngestResult:
    contact_id = await resolve_contact(session, inbound.sender)
    for identity in inbound.also_known_as:
        await add_identity(session, contact_id, identity.kind, identity.value)
    shielded = shield_text(inbound.text)
    html = nh3.clean(inbound.html) if inbound.html else None

    ticket: TicketRow | None = None
    follow_up_of: int | None = None
    if not open_new:
        ticket, follow_up_of = await _ticket_named_in(session, inbound)
        if ticket is None and inbound.thread_key:
            ticket = await _ticket_owning_thread(session, inbound)
    created = False
    if ticket is None:
        subject = inbound.subject.strip() or shielded.text.strip()[:SUBJECT_FROM_TEXT_CHARS]
        ticket = await open_ticket(
            session,
            contact_id=contact_id,
            channel=inbound.channel,
            subject=subject,
            thread_key=inbound.thread_key,
            category=inbound.category,
            priority=inbound.priority,
            locale=inbound.locale,
            follow_up_of_id=follow_up_of,
            team=inbound.team,
        )
        if ticket is None:  # another message of this thread opened it a moment ago
            ticket = await _ticket_owning_thread(session, inbound)
            assert ticket is not None
        else:
            created = True
    message = await add_customer_message(
        session,
        ticket,
        contact_id=contact_id,
        channel=inbound.channel,
        text=shielded.text,
        html=html,
        external_id=inbound.external_id,
        redactions=shielded.redactions,
        fresh_ticket=created,
    )
    if message is None:
        raise _AlreadyStored
    if created and submitted_by is not None:
        await record(
            session,
            submitted_by,
            "ticket.created",
            "ticket",
            ticket.number,
            channel=inbound.channel,
        )
    for attachment in inbound.attachments:
        assert files is not None
        await store_attachment(
            session,
            files,
            message_id=message.id,
            filename=attachment.filename,
            declared_type=attachment.content_type,
            data=attachment.data,
            inline=attachment.inline,
            content_id=attachment.content_id,
            # A customer's message is never refused for a mislabelled file: it is kept
            # and only ever served as a download of what it really is.
            strict_type=False,
        )
    return IngestResult(
        ticket.id,
        ticket.number,
        message.id,
        created_ticket=created,
        ticket=ticket,
        message=message,
        contact_id=contact_id,
    )


async def _ticket_named_in(
    session: AsyncSession, inbound: InboundMessage
) -> tuple[TicketRow | None, int | None]:
    """The ticket a customer quotes by number; for a closed one, (None, its id) → a follow-up."""
    for number in find_ticket_numbers(f"{inbound.subject}\n{inbound.text}"):
        ticket = await ticket_numbered(session, number)
        if ticket is None:
            continue
        if ticket.status == Status.CLOSED:
            return None, int(ticket.id)
        return ticket, None
    return None, None


async def _ticket_owning_thread(session: AsyncSession, inbound: InboundMessage) -> TicketRow | None:
    assert inbound.thread_key is not None
    return await ticket_owning_thread(session, inbound.channel, inbound.thread_key)
