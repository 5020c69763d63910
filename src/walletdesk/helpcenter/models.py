"""Help-center tables: categories, articles with revisions and similar questions, feedback,
deflection events, and the index version that tells every node the articles changed."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from walletdesk.db import Base, JSONType, UTCDateTime, utcnow

LOCALES = ("zh-CN", "en")


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Category(Base):
    __tablename__ = "helpcenter_categories"
    __table_args__ = (
        UniqueConstraint("locale", "slug"),
        UniqueConstraint("locale", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(String(10))
    slug: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Article(Base):
    """One article in one locale; `translation_group` links its versions in other locales."""

    __tablename__ = "helpcenter_articles"
    __table_args__ = (UniqueConstraint("locale", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(10))
    translation_group: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    # Rendered and sanitised once on save, so pages never render Markdown on a request.
    body_html: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("helpcenter_categories.id"), index=True)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default=ArticleStatus.DRAFT)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ArticleRevision(Base):
    """A snapshot of an article as saved; the history an editor can look back on."""

    __tablename__ = "helpcenter_article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "revision"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpcenter_articles.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    editor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimilarQuestion(Base):
    """A phrasing customers actually use for the question an article answers (相似问法)."""

    __tablename__ = "helpcenter_similar_questions"
    __table_args__ = (UniqueConstraint("article_id", "text"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpcenter_articles.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(500))
    # "import", "editor" or "ticket" (an agent added a customer's real question).
    source: Mapped[str] = mapped_column(String(20), default="import")
    ticket_number: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleFeedback(Base):
    """A reader's answer to "Was this helpful?"."""

    __tablename__ = "helpcenter_feedback"
    # The editor shows an article's latest comments: read in order, however many answers
    # a popular article has. Also the index the foreign key's cascade uses.
    __table_args__ = (
        Index("ix_helpcenter_feedback_article_recent", "article_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("helpcenter_articles.id", ondelete="CASCADE")
    )
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[str] = mapped_column(String(20), default="web")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeflectionOutcome(StrEnum):
    SHOWN = "shown"
    OPENED = "opened"
    RESOLVED = "resolved"
    NOT_RESOLVED = "not_resolved"


class DeflectionEvent(Base):
    """What happened to a set of suggested articles: shown, opened, or it solved the question."""

    __tablename__ = "helpcenter_deflections"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    suggestion_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpcenter_articles.id", ondelete="SET NULL"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IndexVersion(Base):
    """One row; bumped by every change to what search sees, so each node knows to rebuild."""

    __tablename__ = "helpcenter_index_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
