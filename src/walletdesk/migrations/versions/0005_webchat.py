"""webchat: sites, conversations, agent chat client ids, agent heartbeats

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webchat_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("allowed_origins", _JSON, nullable=False),
        sa.Column("identity_secret", sa.String(length=100), nullable=False),
        sa.Column("business_hours", _JSON, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_sites")),
        sa.UniqueConstraint("key", name=op.f("uq_webchat_sites_key")),
    )
    op.create_table(
        "webchat_conversations",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column("identity_kind", sa.String(length=20), nullable=False),
        sa.Column("identity_value", sa.String(length=320), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("ticket_id", _BIGID, nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=10), nullable=True),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("customer_read_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_read_id", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_webchat_conversations_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["webchat_sites.id"],
            name=op.f("fk_webchat_conversations_site_id_webchat_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_webchat_conversations_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_conversations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_webchat_conversations_public_id")),
    )
    with op.batch_alter_table("webchat_conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webchat_conversations_queue", ["status", "tier", "queued_at"], unique=False
        )
        batch_op.create_index(
            "ix_webchat_conversations_agent", ["agent_id", "status"], unique=False
        )
        batch_op.create_index("ix_webchat_conversations_ended", ["tier", "ended_at"], unique=False)

    op.create_table(
        "webchat_conversation_tickets",
        sa.Column("conversation_id", _BIGID, nullable=False),
        sa.Column("ticket_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["webchat_conversations.id"],
            name=op.f("fk_webchat_conversation_tickets_conversation_id_webchat_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_webchat_conversation_tickets_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "ticket_id", name=op.f("pk_webchat_conversation_tickets")
        ),
    )
    op.create_table(
        "webchat_agent_messages",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("conversation_id", _BIGID, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["webchat_conversations.id"],
            name=op.f("fk_webchat_agent_messages_conversation_id_webchat_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_webchat_agent_messages_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_agent_messages")),
        sa.UniqueConstraint(
            "conversation_id",
            "client_id",
            name=op.f("uq_webchat_agent_messages_conversation_id_client_id"),
        ),
    )
    op.create_table(
        "webchat_agent_heartbeats",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=80), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_webchat_agent_heartbeats_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "node", name=op.f("pk_webchat_agent_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("webchat_agent_heartbeats")
    op.drop_table("webchat_agent_messages")
    op.drop_table("webchat_conversation_tickets")
    with op.batch_alter_table("webchat_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_webchat_conversations_ended")
        batch_op.drop_index("ix_webchat_conversations_agent")
        batch_op.drop_index("ix_webchat_conversations_queue")
    op.drop_table("webchat_conversations")
    op.drop_table("webchat_sites")
