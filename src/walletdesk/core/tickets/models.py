"""Tickets, their messages and tags, and the ticket-number block counter."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from walletdesk.db import Base, UTCDateTime, utcnow


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    ON_HOLD = "on_hold"  # waiting on a third party (bank, card scheme, wallet back office)
    SOLVED = "solved"
    CLOSED = "closed"


ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
_ACTIVE_SQL = text("status IN ('new', 'open', 'pending', 'on_hold')")


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Category(StrEnum):
    ACCOUNT_ACCESS = "account_access"
    ACCOUNT_FROZEN = "account_frozen"
    PAYMENT_FAILED = "payment_failed"
    TRANSFER_REFUND = "transfer_refund"
    CARD_BINDING = "card_binding"
    IDENTITY_VERIFICATION = "identity_verification"
    FRAUD_SECURITY = "fraud_security"
    FEES = "fees"
    COMPLAINT = "complaint"
    OTHER = "other"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


TIERS = (1, 2, 3)

ticket_tags = Table(
    "ticket_tags",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # While a ticket is not closed it owns its channel thread (a chat, an email thread);
        # the unique pair makes two racing first messages of one thread open one ticket.
        UniqueConstraint("channel", "open_thread_key"),
        # Inbox lists are keyset-paginated on (updated_at, id) under each common filter.
        Index("ix_tickets_recent", "updated_at", "id"),
        Index("ix_tickets_status_recent", "status", "updated_at", "id"),
        Index("ix_tickets_tier_recent", "tier", "status", "updated_at", "id"),
        Index("ix_tickets_assignee_recent", "assignee_id", "status", "updated_at", "id"),
        Index("ix_tickets_contact", "contact_id", "created_at"),
        # Active tickets are a small slice of a big table: these partial indexes hand the
        # inbox its default view in updated_at order without walking past closed ones.
        # Queries must spell the status list literally (see queries.ACTIVE) to match them.
        Index(
            "ix_tickets_active_tier_recent",
            "tier",
            "updated_at",
            "id",
            postgresql_where=_ACTIVE_SQL,
            sqlite_where=_ACTIVE_SQL,
        ),
        Index(
            "ix_tickets_active_recent",
            "updated_at",
            "id",
            postgresql_where=_ACTIVE_SQL,
            sqlite_where=_ACTIVE_SQL,
        ),
        Index(
            "ix_tickets_active_assignee_recent",
            "assignee_id",
            "updated_at",
            "id",
            postgresql_where=_ACTIVE_SQL,
            sqlite_where=_ACTIVE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default=Status.NEW)
    priority: Mapped[str] = mapped_column(String(10), default=Priority.NORMAL)
    category: Mapped[str] = mapped_column(String(30), default=Category.OTHER)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(20))
    thread_key: Mapped[str | None] = mapped_column(String(200), default=None)
    open_thread_key: Mapped[str | None] = mapped_column(String(200), default=None)
    locale: Mapped[str | None] = mapped_column(String(10), default=None)
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotency of inbound delivery: a platform's message id is stored once.
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_ticket", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(10))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(300), default=None)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    # The sender is not the ticket's customer (they quoted someone else's ticket number):
    # agents must verify before acting on it.
    sender_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    redactions: Mapped[int] = mapped_column(Integer, default=0)
    delivery_status: Mapped[str | None] = mapped_column(String(10), default=None)
    delivery_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Why delivery failed, one of core.channels.DELIVERY_REASONS: shown in the agent's language.
    delivery_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketNumberBlock(Base):
    """Counter from which each process reserves a block of ticket numbers at a time."""

    __tablename__ = "ticket_number_blocks"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)


# The tables, for the hot paths' Core statements (built once, bound per call).
TICKETS = cast(Table, Ticket.__table__)
MESSAGES = cast(Table, Message.__table__)
# A ticket or message row as such a statement returns it: every column, read by name.
TicketRow = Row[Any]
MessageRow = Row[Any]
