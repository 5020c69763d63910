"""email channel: Message-IDs for threading, automatic-reply log, IMAP mailbox state

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("message_id_header", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("thread_root", sa.String(length=255), nullable=False),
        sa.Column("raw_key", sa.String(length=64), nullable=True),
        sa.Column("raw_size", sa.Integer(), nullable=True),
        sa.Column("full_text", sa.Text(), nullable=True),
        sa.Column("spf", sa.String(length=16), nullable=True),
        sa.Column("dkim", sa.String(length=16), nullable=True),
        sa.Column("dmarc", sa.String(length=16), nullable=True),
        sa.Column("auth_suspicious", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_email_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_email_messages_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("message_id_header", name=op.f("uq_email_messages_message_id_header")),
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_messages_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_email_messages_message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "email_auto_replies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_email_auto_replies_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_auto_replies")),
        sa.UniqueConstraint("in_reply_to", name=op.f("uq_email_auto_replies_in_reply_to")),
    )
    with op.batch_alter_table("email_auto_replies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_auto_replies_recipient", ["recipient", "created_at"], unique=False
        )

    op.create_table(
        "email_mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=400), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_mailboxes")),
        sa.UniqueConstraint("mailbox", name=op.f("uq_email_mailboxes_mailbox")),
    )


def downgrade() -> None:
    op.drop_table("email_mailboxes")
    with op.batch_alter_table("email_auto_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_email_auto_replies_recipient")
    op.drop_table("email_auto_replies")
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_messages_message_id"))
        batch_op.drop_index(batch_op.f("ix_email_messages_ticket_id"))
    op.drop_table("email_messages")
