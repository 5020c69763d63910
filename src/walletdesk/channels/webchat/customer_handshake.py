"""A customer socket's handshake and resume: hello, welcome, history catch-up, restart.

The first frame must be a hello, sent within hello_timeout_seconds. `identify` (welcome.py)
decides who the socket speaks for and which conversation it resumes; the welcome frame then
carries what the widget draws: status, ticket, the history after the client's last id,
availability, queue position and limits, with a resume token for the next connection. A
client that missed messages asks for history; after an ended chat, restart begins a new
conversation on the same socket with a fresh welcome.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from walletdesk.channels.webchat import frames, service
from walletdesk.channels.webchat.connection import BinaryFrame
from walletdesk.channels.webchat.history import conversation_messages
from walletdesk.channels.webchat.identity import (
    IdentityRejected,
    Resume,
    new_public_id,
    resume_token,
)
from walletdesk.channels.webchat.protocol import (
    CLOSE_HELLO_TIMEOUT,
    CLOSE_UNAUTHORIZED,
    ProtocolError,
    parse_frame,
)
from walletdesk.channels.webchat.welcome import identify, read_chat

if TYPE_CHECKING:
    from walletdesk.channels.webchat.customer_ws import CustomerChat


async def read_hello(chat: CustomerChat) -> frames.Hello | None:
    """The first frame, which must be a hello; None once the socket was told why not."""
    try:
        async with asyncio.timeout(chat.settings.hello_timeout_seconds):
            raw = await chat.receive_text()
        frame = parse_frame(raw, frames.CUSTOMER_FRAMES, max_bytes=chat.settings.max_frame_bytes)
    except TimeoutError:
        chat.fail(
            ProtocolError(
                "hello_timeout",
                "send a hello frame first",
                fatal=True,
                close_code=CLOSE_HELLO_TIMEOUT,
            )
        )
        return None
    except BinaryFrame:
        chat.fail(ProtocolError("hello_required", "the first frame must be a hello", fatal=True))
        return None
    except ProtocolError as exc:
        exc.fatal = True
        chat.fail(exc)
        return None
    if not isinstance(frame, frames.Hello):
        chat.fail(ProtocolError("hello_required", "the first frame must be a hello", fatal=True))
        return None
    return frame


async def welcome(chat: CustomerChat, hello: frames.Hello) -> bool:
    """Identify the visitor, join their conversation and send the welcome; False if refused."""
    secret_key = chat.hub.runtime.settings.resolved_secret_key()
    try:
        visitor = identify(chat.site, chat.settings, secret_key, hello)
    except IdentityRejected as exc:
        chat.fail(ProtocolError(exc.code, exc.message, fatal=True, close_code=CLOSE_UNAUTHORIZED))
        return False
    chat.resume = visitor.resume
    chat.conversation = visitor.resume.conversation
    chat.sender = visitor.sender
    chat.also_known_as = visitor.also_known_as
    chat.locale = visitor.locale
    # Registered before the state is read: what happens meanwhile is held, not lost.
    chat.hub.add_customer(chat)
    chat.send(await _welcome_frame(chat, hello.last_seen_id, visitor.resume, secret_key))
    return True


async def _welcome_frame(
    chat: CustomerChat, after: int, resume: Resume, secret_key: str
) -> dict[str, Any]:
    """Read the chat into the socket's state and shape it as the welcome frame."""
    chat.contact_id = None
    state = await read_chat(chat.hub.runtime.db, chat.settings, resume.conversation, after=after)
    chat.status, chat.tier = state.status, state.tier
    chat.ticket_id, chat.ticket_number = state.ticket_id, state.ticket_number
    figures, history = state.figures, state.history
    for message in history:
        chat.first_delivery(int(message["id"]))
    chat.online = state.agents_online and chat.site.is_open()
    frame: dict[str, Any] = {
        "type": "welcome",
        "conversation": resume.conversation,
        "token": resume_token(secret_key, resume),
        "verified": chat.sender.verified,
        "status": chat.status,
        "ticket": chat.ticket_number,
        "agent": state.agent,
        "rating": state.rating,
        "follow_up": state.follow_up,
        "answer_by": state.answer_by,
        "customer_read_id": state.customer_read_id,
        "agent_read_id": state.agent_read_id,
        "history": history,
        "more": state.more,
        "online": chat.online,
        "open": chat.site.is_open(),
        "queue": figures.frame(resume.conversation) if figures else None,
        "limits": {
            "max_text_chars": chat.settings.max_text_chars,
            "max_attachment_bytes": chat.settings.max_attachment_bytes,
            "attachment_types": list(chat.settings.allowed_attachment_types),
        },
    }
    if figures:
        chat.last_queue = (frame["queue"]["position"], frame["queue"]["eta_seconds"])
    return frame


async def send_history(chat: CustomerChat, after: int) -> None:
    """The conversation's messages after `after`: what a client that lost some asks for."""
    async with chat.hub.runtime.db.transaction() as session:
        conversation = await service.find(session, chat.conversation)
        messages, more = (
            await conversation_messages(
                session, conversation, after=after, limit=chat.settings.history_limit
            )
            if conversation
            else ([], False)
        )
    chat.send({"type": "history", "messages": messages, "more": more})


async def restart(chat: CustomerChat) -> None:
    """After an ended chat: a new conversation for the same visitor, and its welcome."""
    if chat.status in ("new", "waiting", "active"):
        raise ProtocolError("conversation_open", "this chat is still open")
    assert chat.resume is not None
    old = chat.conversation
    chat.resume = Resume(new_public_id(), chat.site.id, chat.resume.visitor, chat.resume.user_id)
    chat.conversation = chat.resume.conversation
    chat.hub.remove_customer(chat, old)
    chat.hold()
    chat.hub.add_customer(chat)
    secret_key = chat.hub.runtime.settings.resolved_secret_key()
    try:
        chat.send(await _welcome_frame(chat, 0, chat.resume, secret_key))
    finally:
        chat.release()
