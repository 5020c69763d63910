"""A customer's chat message: checked, stored once, acknowledged, then shown to the agents.

Every customer message carries a client id; it is stored once under
(webchat, "<conversation>:<client id>") and acknowledged with the same server id however
often it is resent. Once a socket's first message went through ingest(), later ones take the
group-committed follow-up path. This is the latency-critical path that bench/chat.py
measures: keep it free of extra awaits and of objects made per message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from walletdesk.channels.webchat import events, frames, service, views
from walletdesk.channels.webchat.history import CHANNEL, external_id
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.channels.webchat.protocol import ProtocolError, unavailable
from walletdesk.core.channels import InboundMessage
from walletdesk.core.errors import InvalidInput
from walletdesk.core.tickets.appending import FollowUpDraft
from walletdesk.core.tickets.numbers import find_ticket_numbers
from walletdesk.security.shield import Shielded, shield_text

if TYPE_CHECKING:
    from walletdesk.channels.webchat.customer_ws import CustomerChat

log = logging.getLogger(__name__)


async def receive_message(chat: CustomerChat, frame: frames.CustomerMessage) -> None:
    """Store the message (redacted), ack it to the sender, publish it to the conversation."""
    text = frame.text
    if len(text) > chat.settings.max_text_chars:
        raise ProtocolError(
            "too_large",
            f"a message holds at most {chat.settings.max_text_chars} characters",
            ref=frame.id,
        )
    if not text.strip():
        raise ProtocolError("bad_field", "text: must not be empty", ref=frame.id)
    if chat.status == ConversationStatus.ENDED:
        raise ProtocolError(
            "conversation_ended",
            "this chat has ended: send restart to begin a new one",
            ref=frame.id,
        )
    chat.charge(frame.id)
    shielded = shield_text(text)
    try:
        stored = await _follow_up(chat, frame.id, text, shielded) or await _ingest(
            chat, frame.id, text
        )
    except InvalidInput as exc:
        raise ProtocolError("bad_field", str(exc), ref=frame.id) from None
    except Exception:
        log.exception("webchat message %s could not be stored", frame.id)
        raise unavailable(frame.id) from None
    message_id, duplicate = stored
    chat.first_delivery(message_id)
    ack: dict[str, Any] = {
        "type": "ack",
        "id": frame.id,
        "message_id": message_id,
        "ticket": chat.ticket_number,
        "duplicate": duplicate,
    }
    if shielded.text != text:
        ack["text"] = shielded.text  # secrets were redacted before storing: show what was kept
    chat.send(ack)
    message = {
        "id": message_id,
        "author": "customer",
        "text": shielded.text,
        "client_id": frame.id,
    }
    await chat.hub.publish(
        events.to_conversation(
            chat.conversation,
            {"type": "message", "conversation": chat.conversation, "message": message},
            origin=chat.id,
        )
    )


async def _follow_up(
    chat: CustomerChat, client_id: str, text: str, shielded: Shielded
) -> tuple[int, bool] | None:
    """The fast path for a known chat; None when the message needs ingest()'s rules.

    A message quoting a ticket number goes to that ticket (ingest decides), and one for a
    ticket closed meanwhile opens a follow-up ticket (the writer hands it back).
    """
    if chat.ticket_id is None or chat.contact_id is None or find_ticket_numbers(text):
        return None
    appended = await chat.hub.follow_ups.submit(
        FollowUpDraft(
            ticket_id=chat.ticket_id,
            channel=CHANNEL,
            thread_key=chat.conversation,
            contact_id=chat.contact_id,
            external_id=external_id(chat.conversation, client_id),
            text=shielded.text,
            redactions=shielded.redactions,
        )
    )
    return None if appended is None else (appended.message_id, appended.duplicate)


async def _ingest(chat: CustomerChat, client_id: str, text: str) -> tuple[int, bool]:
    inbound = InboundMessage(
        channel=CHANNEL,
        external_id=external_id(chat.conversation, client_id),
        sender=chat.sender,
        text=text,
        thread_key=chat.conversation,
        locale=chat.locale,
        also_known_as=chat.also_known_as,
    )
    # The first message of a chat opens (or joins) its own thread's ticket even when it
    # quotes another ticket's number; later ones follow ingest's usual rules.
    result = await chat.hub.runtime.intake.ingest(inbound, open_new=chat.ticket_id is None)
    if result.ticket_id != chat.ticket_id:
        await _record_ticket(chat, result.ticket_id)
    if result.contact_id is not None and result.ticket_id == chat.ticket_id:
        chat.contact_id = result.contact_id
    return result.message_id, result.duplicate


async def _record_ticket(chat: CustomerChat, ticket_id: int) -> None:
    assert chat.resume is not None
    async with chat.hub.runtime.db.transaction() as session:
        conversation = await service.record_customer_ticket(
            session,
            public_id=chat.conversation,
            site_id=chat.site.id,
            visitor=chat.resume.visitor,
            sender=chat.sender,
            locale=chat.locale,
            ticket_id=ticket_id,
        )
        if conversation.ticket_id != chat.ticket_id:
            summary = (await views.chat_summaries(session, [conversation]))[0]
            chat.ticket_number = summary["ticket"]
        chat.ticket_id = conversation.ticket_id
        chat.tier = conversation.tier
        if chat.status == "new":
            chat.status = conversation.status
