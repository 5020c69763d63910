"""What a customer's chat ends with: ending it, a rating, contact details, a transcript.

The customer may end the chat; once it has ended, rate it (once) and ask for its transcript
by email. An anonymous visitor may leave an email or phone number, any time after the first
message, so a follow-up can be answered after the chat (`answer_by`). Each of these costs a
database transaction: the dispatcher charges it to the message allowance first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletdesk.channels.webchat import frames, service, transcript
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.channels.webchat.protocol import ProtocolError

if TYPE_CHECKING:
    from walletdesk.channels.webchat.customer_ws import CustomerChat


async def end_chat(chat: CustomerChat) -> None:
    if chat.status == "new":
        raise ProtocolError("no_conversation", "nothing to end yet")
    async with chat.hub.runtime.db.transaction() as session:
        await service.end_by_customer(session, chat.conversation)
    chat.status = ConversationStatus.ENDED


async def rate_chat(chat: CustomerChat, frame: frames.Rate) -> None:
    async with chat.hub.runtime.db.transaction() as session:
        await service.rate(session, chat.conversation, frame.score, frame.comment)


async def save_contact(chat: CustomerChat, frame: frames.ContactDetails) -> None:
    if not frame.email.strip() and not frame.phone.strip():
        raise ProtocolError("bad_field", "give an email or a phone number")
    async with chat.hub.runtime.db.transaction() as session:
        conversation = await service.find(session, chat.conversation)
        if conversation is None:
            raise ProtocolError("no_conversation", "send a message first")
        await service.add_contact_details(
            session, conversation, email=frame.email, phone=frame.phone
        )
        answer_by = await service.answer_channel(session, conversation.ticket_id)
    chat.send({"type": "contact_saved", "answer_by": answer_by})


async def send_transcript(chat: CustomerChat, frame: frames.TranscriptRequest) -> None:
    if chat.status == "new":
        raise ProtocolError("no_conversation", "nothing to send yet")
    if chat.status != ConversationStatus.ENDED:
        raise ProtocolError("conversation_open", "a transcript is sent once the chat has ended")
    async with chat.hub.runtime.db.transaction() as session:
        queued = await transcript.request_transcript(session, chat.conversation, frame.email)
    chat.send({"type": "transcript_queued", "email": queued.email, "duplicate": queued.duplicate})
