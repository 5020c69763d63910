"""messages: why a reply was not delivered, as a reason the console can translate

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

delivery_error keeps the platform's or relay's own words (often English); delivery_reason
(one of walletdesk.core.channels.DELIVERY_REASONS) is what an agent reads, in the console's
language. Replies that failed before this migration have no reason: the console shows their
detail alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER on both databases (SQLite adds a nullable column in place).
    op.add_column("messages", sa.Column("delivery_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery_reason")
