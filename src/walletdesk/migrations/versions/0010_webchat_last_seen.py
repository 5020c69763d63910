"""webchat: when a chat's customer was last seen; agent heartbeats that outlive the connection

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

`webchat_conversations.last_seen_at` is touched by the nodes while the customer has a socket
open: the queue ranks only customers seen lately, and a waiting chat whose customer stayed
away becomes a follow-up ticket. Chats still open get their queue time as a first value, so
the ones nobody has watched for long leave the queue on the first sweep; a customer who is
really there is marked seen again when their widget reconnects.

`webchat_agent_heartbeats.connected`: a heartbeat row now stays when the agent's chat client
goes, marked not connected, so that every node can tell how long the agent has been gone
(their chats go back to the queue after a grace). Rows already there are live connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Written as 0009 on 0008; 0009_delivery_reason (messages.delivery_reason) took that number
# first, so this one follows it.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webchat_conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE webchat_conversations SET last_seen_at = queued_at WHERE status <> 'ended'")
    with op.batch_alter_table("webchat_agent_heartbeats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("connected", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    # The old code deletes the row of a client that goes: keep only live connections.
    op.execute("DELETE FROM webchat_agent_heartbeats WHERE NOT connected")
    with op.batch_alter_table("webchat_agent_heartbeats", schema=None) as batch_op:
        batch_op.drop_column("connected")
    with op.batch_alter_table("webchat_conversations", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
