"""Tables of the email channel: Message-IDs for threading, automatic replies, IMAP state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from walletdesk.db import Base, UTCDateTime, utcnow


class Direction(StrEnum):
    INBOUND = "in"
    REPLY = "reply"  # an agent's reply we sent
    ACK = "ack"  # our automatic acknowledgement


class EmailMessage(Base):
    """Every email we received or sent, by Message-ID: how replies find their ticket."""

    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id_header: Mapped[str] = mapped_column(String(255), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # The ticket message it became (None for acknowledgements, which are not ticket messages).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None, index=True
    )
    direction: Mapped[str] = mapped_column(String(10))
    # The Message-ID of the thread's first email: the thread key of its ticket.
    thread_root: Mapped[str] = mapped_column(String(255))
    # The original as it arrived, in the attachment store (content-addressed).
    raw_key: Mapped[str | None] = mapped_column(String(64), default=None)
    raw_size: Mapped[int | None] = mapped_column(Integer, default=None)
    full_text: Mapped[str | None] = mapped_column(Text, default=None)
    spf: Mapped[str | None] = mapped_column(String(16), default=None)
    dkim: Mapped[str | None] = mapped_column(String(16), default=None)
    dmarc: Mapped[str | None] = mapped_column(String(16), default=None)
    # Claims to come from a verified customer's address but its domain does not vouch for it.
    auth_suspicious: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailAutoReply(Base):
    """Automatic replies we decided to send: one per inbound email, and the loop breaker's count."""

    __tablename__ = "email_auto_replies"
    __table_args__ = (Index("ix_email_auto_replies_recipient", "recipient", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # The Message-ID answered: unique, so a redelivered email is never acknowledged twice.
    in_reply_to: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailMailbox(Base):
    """Where the IMAP poller is in a mailbox: UIDs up to last_uid are done."""

    __tablename__ = "email_mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(400), unique=True)
    uid_validity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # One poller at a time per mailbox, even with several workers running.
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
