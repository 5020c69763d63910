"""helpcenter_feedback: one article's answers by time, for the editor's latest comments

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

The console's article editor lists an article's latest comments. With an index on
article_id alone, a popular article's every answer was read and sorted; (article_id,
created_at, id) hands the newest over in order, and still serves lookups by article.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_helpcenter_feedback_article_recent",
        "helpcenter_feedback",
        ["article_id", "created_at", "id"],
    )
    op.drop_index("ix_helpcenter_feedback_article_id", table_name="helpcenter_feedback")


def downgrade() -> None:
    op.create_index("ix_helpcenter_feedback_article_id", "helpcenter_feedback", ["article_id"])
    op.drop_index("ix_helpcenter_feedback_article_recent", table_name="helpcenter_feedback")
