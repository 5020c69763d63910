"""The email channel adapter: sends agents' replies through the outbound relay.

The reply's Message-ID is derived from the outbox job's idempotency key, so every retry
of one reply carries the same Message-ID (a receiving system that saw it already can
drop the copy), and it is recorded before sending, so the customer's answer threads
even when our side never learned that the relay took the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletdesk.channels.email import service
from walletdesk.channels.email.compose import OutgoingFile, build_reply, stable_message_id
from walletdesk.channels.email.inbound import Received, StoredEmail, record_batch
from walletdesk.channels.email.models import Direction
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.email.transport import send_email
from walletdesk.core.attachments.service import attachments_of
from walletdesk.core.channels import DeliveryResult, OutboundMessage, PermanentDeliveryError
from walletdesk.core.group_commit import GroupCommit

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime


class EmailAdapter:
    name = "email"

    def __init__(self, runtime: Runtime, settings: EmailSettings | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or EmailSettings()
        # The second step of received emails (inbound.py), many to a transaction.
        self.recorder: GroupCommit[StoredEmail, Received] = GroupCommit(
            runtime.db, record_batch, writers=2
        )

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        to = message.recipients.get("email")
        if not to:
            raise PermanentDeliveryError(
                "the customer has no email address on file", reason="no_address"
            )
        our_id = stable_message_id(
            message.idempotency_key or f"message:{message.message_id}",
            message.ticket_number,
            self.settings.mail_domain,
        )
        async with self.runtime.db.transaction() as session:
            thread = await service.thread_of_ticket(session, message.ticket_id)
            in_reply_to = await service.latest_inbound(session, message.ticket_id)
            root = thread[0] if thread else (message.thread_key or our_id)
            await service.record_email(
                session,
                message_id_header=our_id,
                ticket_id=message.ticket_id,
                message_id=message.message_id,
                direction=Direction.REPLY,
                thread_root=root,
            )
            stored = (await attachments_of(session, [message.message_id]))[message.message_id]
        files = [
            OutgoingFile(a.filename, a.content_type, await self.runtime.files.get(a.storage_key))
            for a in stored
        ]
        try:
            email = build_reply(
                self.settings,
                to=to,
                to_name="",
                ticket_number=message.ticket_number,
                subject=message.subject,
                text=message.text,
                html=message.html,
                message_id=our_id,
                in_reply_to=in_reply_to,
                references=[i for i in thread if i != our_id],
                files=files,
            )
        except (ValueError, TypeError) as exc:  # an address the email library cannot write
            raise PermanentDeliveryError(
                f"cannot address an email to {to!r}: {exc}", reason="no_address"
            ) from None
        await send_email(self.settings, email, sender=self.settings.mail_from, recipients=[to])
        return DeliveryResult(external_id=our_id)


def email_settings_of(runtime: Runtime) -> EmailSettings:
    """The email settings the node's adapter was built with (tests pass their own)."""
    adapter = runtime.channels.get("email")
    if isinstance(adapter, EmailAdapter):
        return adapter.settings
    return EmailSettings()
