"""help center: categories, articles, revisions, similar questions, feedback, deflections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpcenter_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_categories")),
        sa.UniqueConstraint("locale", "name", name=op.f("uq_helpcenter_categories_locale_name")),
        sa.UniqueConstraint("locale", "slug", name=op.f("uq_helpcenter_categories_locale_slug")),
    )
    version_table = op.create_table(
        "helpcenter_index_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_index_version")),
    )
    # The single row every node polls; service functions only ever update it.
    op.bulk_insert(version_table, [{"id": 1, "version": 0}])
    op.create_table(
        "helpcenter_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("translation_group", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column(
            "keywords", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("unhelpful_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["helpcenter_categories.id"],
            name=op.f("fk_helpcenter_articles_category_id_helpcenter_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_articles")),
        sa.UniqueConstraint("locale", "slug", name=op.f("uq_helpcenter_articles_locale_slug")),
    )
    with op.batch_alter_table("helpcenter_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpcenter_articles_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_articles_translation_group"),
            ["translation_group"],
            unique=False,
        )

    op.create_table(
        "helpcenter_article_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "snapshot", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("editor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpcenter_articles.id"],
            name=op.f("fk_helpcenter_article_revisions_article_id_helpcenter_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_article_revisions")),
        sa.UniqueConstraint(
            "article_id",
            "revision",
            name=op.f("uq_helpcenter_article_revisions_article_id_revision"),
        ),
    )
    with op.batch_alter_table("helpcenter_article_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpcenter_article_revisions_article_id"), ["article_id"], unique=False
        )

    op.create_table(
        "helpcenter_deflections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("suggestion_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpcenter_articles.id"],
            name=op.f("fk_helpcenter_deflections_article_id_helpcenter_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_deflections")),
    )
    with op.batch_alter_table("helpcenter_deflections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpcenter_deflections_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_deflections_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_helpcenter_deflections_suggestion_id"), ["suggestion_id"], unique=False
        )

    op.create_table(
        "helpcenter_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpcenter_articles.id"],
            name=op.f("fk_helpcenter_feedback_article_id_helpcenter_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_feedback")),
    )
    with op.batch_alter_table("helpcenter_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpcenter_feedback_article_id"), ["article_id"], unique=False
        )

    op.create_table(
        "helpcenter_similar_questions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("ticket_number", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["helpcenter_articles.id"],
            name=op.f("fk_helpcenter_similar_questions_article_id_helpcenter_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpcenter_similar_questions")),
        sa.UniqueConstraint(
            "article_id", "text", name=op.f("uq_helpcenter_similar_questions_article_id_text")
        ),
    )
    with op.batch_alter_table("helpcenter_similar_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helpcenter_similar_questions_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("helpcenter_similar_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_similar_questions_article_id"))

    op.drop_table("helpcenter_similar_questions")
    with op.batch_alter_table("helpcenter_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_feedback_article_id"))

    op.drop_table("helpcenter_feedback")
    with op.batch_alter_table("helpcenter_deflections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_deflections_suggestion_id"))
        batch_op.drop_index(batch_op.f("ix_helpcenter_deflections_created_at"))
        batch_op.drop_index(batch_op.f("ix_helpcenter_deflections_article_id"))

    op.drop_table("helpcenter_deflections")
    with op.batch_alter_table("helpcenter_article_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_article_revisions_article_id"))

    op.drop_table("helpcenter_article_revisions")
    with op.batch_alter_table("helpcenter_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpcenter_articles_translation_group"))
        batch_op.drop_index(batch_op.f("ix_helpcenter_articles_category_id"))

    op.drop_table("helpcenter_articles")
    op.drop_table("helpcenter_index_version")
    op.drop_table("helpcenter_categories")
