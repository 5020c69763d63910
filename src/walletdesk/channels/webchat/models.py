"""Live-chat tables: the sites a widget runs on, conversations, and what agents sent from chat."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from walletdesk.db import Base, JSONType, UTCDateTime, utcnow


class ConversationStatus(StrEnum):
    WAITING = "waiting"  # in its tier's queue, no agent yet
    ACTIVE = "active"  # an agent accepted it
    ENDED = "ended"


class WebchatSite(Base):
    """A website (or app web view) that embeds the widget."""

    __tablename__ = "webchat_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public: it sits in the host page's <script> tag.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Signs the logged-in user's id on the wallet's backend; never leaves the two servers.
    identity_secret: Mapped[str] = mapped_column(String(100))
    # {"timezone": "Asia/Shanghai", "days": [1..7], "open": "09:00", "close": "22:00"};
    # None = always open.
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    """One live chat. Its public id is the tickets' thread key; it exists from the first message."""

    __tablename__ = "webchat_conversations"
    __table_args__ = (
        # The queue of a tier, oldest first.
        Index("ix_webchat_conversations_queue", "status", "tier", "queued_at"),
        Index("ix_webchat_conversations_agent", "agent_id", "status"),
        # Recent handling times, for the estimated wait.
        Index("ix_webchat_conversations_ended", "tier", "ended_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("webchat_sites.id"))
    visitor_id: Mapped[str] = mapped_column(String(40))
    # How the customer is known: ("webchat", visitor id) or ("wallet", verified user id).
    identity_kind: Mapped[str] = mapped_column(String(20))
    identity_value: Mapped[str] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("tickets.id"), default=None
    )
    status: Mapped[str] = mapped_column(String(10), default=ConversationStatus.WAITING)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    locale: Mapped[str | None] = mapped_column(String(10), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the customer last had a socket open on the chat (touched by the nodes' hubs every
    # heartbeat): the queue counts only customers seen lately, and a waiting chat whose
    # customer stayed away becomes a follow-up ticket. None only for chats that ended
    # before the column existed.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_by: Mapped[str | None] = mapped_column(String(10), default=None)
    follow_up: Mapped[bool] = mapped_column(Boolean, default=False)
    # Read receipts: the highest message id each side has seen.
    customer_read_id: Mapped[int] = mapped_column(BigInteger, default=0)
    agent_read_id: Mapped[int] = mapped_column(BigInteger, default=0)
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    rating_comment: Mapped[str | None] = mapped_column(Text, default=None)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ConversationTicket(Base):
    """The tickets a conversation's thread opened (a new one follows a closed one)."""

    __tablename__ = "webchat_conversation_tickets"

    conversation_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webchat_conversations.id", ondelete="CASCADE"),
        primary_key=True,
    )
    ticket_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("tickets.id", ondelete="CASCADE"),
        primary_key=True,
    )


class AgentChatMessage(Base):
    """The client id an agent's chat client gave a reply, so a resend is stored once."""

    __tablename__ = "webchat_agent_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webchat_conversations.id", ondelete="CASCADE"),
    )
    client_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("messages.id", ondelete="CASCADE"),
    )


class AgentHeartbeat(Base):
    """An agent has (or had) a chat client connected to `node`.

    `seen_at` is refreshed while the client stays connected; when it goes (or the node
    stops), the row stays with `connected` false and `seen_at` the moment it went, so any
    node can tell how long the agent has been gone. Presence says what the agent chose
    (online, away); a connected, fresh row says a browser is really there. Routing counts
    an agent only when both hold (queue.available_agents).
    """

    __tablename__ = "webchat_agent_heartbeats"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    node: Mapped[str] = mapped_column(String(80), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    connected: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
