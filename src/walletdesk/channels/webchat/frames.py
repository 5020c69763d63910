"""The JSON frames clients send, customer side and agent side (docs/webchat-protocol.md).

Every free text field is `StoredText`: a NUL or a lone surrogate ("\\ud800" in JSON) is a
`bad_field` naming the field, refused alike on SQLite and PostgreSQL (walletdesk.core.text),
never a database error.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from walletdesk.core.text import StoredText
from walletdesk.db import MAX_BIGINT_ID, MAX_INT_ID

# Chosen by the client (a UUID, or any 1-64 URL-safe characters); a resend repeats it.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
PublicId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,40}$")]
# Ids as the columns hold them (BIGINT messages, INTEGER agents): a larger number is a
# `bad_field`, not an overflow in the driver.
MessageId = Annotated[int, Field(ge=0, le=MAX_BIGINT_ID)]
AgentId = Annotated[int, Field(ge=1, le=MAX_INT_ID)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- customer → server ---------------------------------------------------------------------


class SignedIdentity(Frame):
    user_id: StoredText = Field(min_length=1, max_length=200)
    expires: int
    signature: StoredText = Field(min_length=1, max_length=128)
    name: StoredText | None = Field(default=None, max_length=100)
    email: StoredText | None = Field(default=None, max_length=320)


class Hello(Frame):
    type: Literal["hello"]
    token: StoredText | None = Field(default=None, max_length=600)
    identity: SignedIdentity | None = None
    locale: StoredText | None = Field(default=None, max_length=10)
    last_seen_id: MessageId = 0


class CustomerMessage(Frame):
    type: Literal["message"]
    id: ClientId
    text: StoredText


class Typing(Frame):
    type: Literal["typing"]
    active: bool = True


class Read(Frame):
    type: Literal["read"]
    up_to: MessageId


class Delivered(Frame):
    type: Literal["delivered"]
    up_to: MessageId


class Rate(Frame):
    type: Literal["rate"]
    score: int = Field(ge=1, le=5)
    comment: StoredText = Field(default="", max_length=2000)


class End(Frame):
    type: Literal["end"]


class Restart(Frame):
    type: Literal["restart"]


class ContactDetails(Frame):
    type: Literal["contact"]
    name: StoredText = Field(default="", max_length=100)
    email: StoredText = Field(default="", max_length=320)
    phone: StoredText = Field(default="", max_length=40)


class TranscriptRequest(Frame):
    """After the end: email me this chat's public messages."""

    type: Literal["transcript"]
    email: StoredText = Field(max_length=320)


class Ping(Frame):
    type: Literal["ping"]


class History(Frame):
    type: Literal["history"]
    after: MessageId = 0


CUSTOMER_FRAMES: dict[str, type[Frame]] = {
    "hello": Hello,
    "message": CustomerMessage,
    "typing": Typing,
    "read": Read,
    "delivered": Delivered,
    "rate": Rate,
    "end": End,
    "restart": Restart,
    "contact": ContactDetails,
    "transcript": TranscriptRequest,
    "ping": Ping,
    "history": History,
}


# --- agent → server ------------------------------------------------------------------------


class AgentMessage(Frame):
    type: Literal["message"]
    conversation: PublicId
    id: ClientId
    text: StoredText


class AgentTyping(Frame):
    type: Literal["typing"]
    conversation: PublicId
    active: bool = True


class AgentRead(Frame):
    type: Literal["read"]
    conversation: PublicId
    up_to: MessageId


class Accept(Frame):
    type: Literal["accept"]
    conversation: PublicId


class Watch(Frame):
    """Open a conversation: its history, then its live events (supervisors may watch any)."""

    type: Literal["open"]
    conversation: PublicId | None = None
    ticket: StoredText | None = Field(default=None, max_length=20)
    after: MessageId = 0


class Close(Frame):
    """Stop receiving a conversation's live events (the agent closed its view)."""

    type: Literal["close"]
    conversation: PublicId


class Transfer(Frame):
    type: Literal["transfer"]
    conversation: PublicId
    to_agent: AgentId | None = None
    # Escalation: one tier up, with the reason on record.
    escalate: bool = False
    reason: StoredText = Field(default="", max_length=1000)


class AgentEnd(Frame):
    type: Literal["end"]
    conversation: PublicId
    # Keep the ticket open for a follow-up by email instead of solving it.
    follow_up: bool = False


class SetPresence(Frame):
    type: Literal["presence"]
    presence: Literal["online", "away", "offline"]


class ListAgents(Frame):
    type: Literal["agents"]


AGENT_FRAMES: dict[str, type[Frame]] = {
    "message": AgentMessage,
    "typing": AgentTyping,
    "read": AgentRead,
    "accept": Accept,
    "open": Watch,
    "close": Close,
    "transfer": Transfer,
    "end": AgentEnd,
    "presence": SetPresence,
    "agents": ListAgents,
    "ping": Ping,
}


def valid_client_id(value: str) -> bool:
    return re.fullmatch(CLIENT_ID_PATTERN, value) is not None
