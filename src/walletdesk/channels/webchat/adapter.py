"""The `webchat` channel adapter: delivers an agent's reply to the customer's chat.

The outbox worker calls `send` for every public reply on a webchat ticket. It publishes
the stored message on the conversation's bus events, so whichever node holds the
customer's socket pushes it; a customer who is offline gets it from history when they
come back. Replies are also published straight after their commit by the chat itself
(the outbox adds a poll's latency); clients and the hub drop the second copy by id.

A ticket with nobody left in the chat (a "leave a message" ticket, or a chat that
has ended) is answered by email; without an address the delivery fails with the reason
(never a silent "sent"), so the agent sees it on the ticket.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from walletdesk.channels.webchat import events, service
from walletdesk.channels.webchat.history import CHANNEL, message_by_id
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.core.channels import DeliveryResult, OutboundMessage, PermanentDeliveryError

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime


class WebchatAdapter:
    name = CHANNEL

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        pid = message.thread_key
        if not pid:
            return await self._by_email(message)
        async with self.runtime.db.transaction() as session:
            conversation = await service.find(session, pid)
            frame = await message_by_id(session, message.message_id, conversation=pid)
        if frame is not None:
            await events.publish(
                self.runtime.bus,
                events.to_conversation(
                    pid, {"type": "message", "conversation": pid, "message": frame}
                ),
            )
        if conversation is None or conversation.status == ConversationStatus.ENDED:
            # Published above in case they still look at the chat, but nobody is there to
            # count on: without an email the reply fails visibly instead of showing "Sent".
            return await self._by_email(message)
        return DeliveryResult()

    async def _by_email(self, message: OutboundMessage) -> DeliveryResult:
        email = self.runtime.channels.get("email")
        if not message.recipients.get("email"):
            if message.recipients.get("phone"):
                raise PermanentDeliveryError(
                    "the customer left no email address: call them back on the phone they gave",
                    reason="no_address",
                )
            raise PermanentDeliveryError(
                "no email address for this contact: the customer sees this reply only if "
                "they come back to the chat",
                reason="no_address",
            )
        if email is None:
            raise PermanentDeliveryError(
                "no email channel on this server to answer by email", reason="not_configured"
            )
        return await email.send(dataclasses.replace(message, channel="email", thread_key=None))
