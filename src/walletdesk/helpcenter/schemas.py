"""Help-center data in and out: the JSONL article format, API bodies and responses."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from walletdesk.core.text import StoredText
from walletdesk.helpcenter.models import LOCALES, ArticleStatus, DeflectionOutcome

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)
# An opaque id: the suggestion functions make uuid4 hex ids; channels only echo them back.
SUGGESTION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
Channel = Literal["web", "webchat", "email", "phone", "social", "api"]


# Category slugs are made from names (service.category_slug); older ones may end in "-".
_CATEGORY_SLUG = re.compile(r"[a-z0-9-]{1,120}")


def is_slug(value: str) -> bool:
    """Whether `value` can be an article's slug. Anything else names no article, and is
    answered "not found" without asking the database, which might not even take the text
    (PostgreSQL refuses a NUL from a URL)."""
    return len(value) <= 120 and _SLUG.fullmatch(value) is not None


def is_category_slug(value: str) -> bool:
    return _CATEGORY_SLUG.fullmatch(value) is not None


def check_locale(value: str) -> str:
    if value not in LOCALES:
        raise ValueError(f"unknown locale {value!r}; use one of {', '.join(LOCALES)}")
    return value


class ArticleFields(BaseModel):
    """What an editor writes; the same keys as one line of a `kb import` file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: StoredText = Field(min_length=1, max_length=300)
    body: StoredText = Field(min_length=1, max_length=100_000)
    category: StoredText = Field(min_length=1, max_length=120)
    keywords: list[StoredText] = Field(default_factory=list, max_length=50)
    questions: list[StoredText] = Field(default_factory=list, max_length=300)
    status: ArticleStatus = ArticleStatus.PUBLISHED
    translation_group: str | None = Field(default=None, max_length=120, pattern=SLUG_PATTERN)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip() for k in value if k.strip()]
        if any(len(k) > 60 for k in cleaned):
            raise ValueError("each keyword must be at most 60 characters")
        return list(dict.fromkeys(cleaned))

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(q.split()) for q in value if q.strip()]
        if any(len(q) > 500 for q in cleaned):
            raise ValueError("each question must be at most 500 characters")
        return list(dict.fromkeys(cleaned))


class ArticleIn(ArticleFields):
    slug: str = Field(min_length=1, max_length=120, pattern=SLUG_PATTERN)
    locale: str

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return check_locale(value)


class ArticleOut(BaseModel):
    id: int
    slug: str
    locale: str
    translation_group: str
    title: str
    body: str
    body_html: str
    category: str
    keywords: list[str]
    questions: list[str]
    status: str
    revision: int
    helpful_count: int
    unhelpful_count: int
    updated_at: datetime
    published_at: datetime | None


class ArticleSummary(BaseModel):
    id: int
    slug: str
    locale: str
    title: str
    category: str
    status: str
    revision: int
    updated_at: datetime


class RevisionOut(BaseModel):
    revision: int
    editor: str
    created_at: datetime
    title: str
    body: str
    category: str
    keywords: list[str]
    questions: list[str]
    status: str


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: StoredText = Field(min_length=1, max_length=500)
    ticket_number: StoredText | None = Field(default=None, max_length=40)


class PreviewIn(BaseModel):
    body: str = Field(max_length=100_000)


class PreviewOut(BaseModel):
    html: str


class SearchResult(BaseModel):
    slug: str
    title: str
    locale: str
    score: float
    snippet: str = Field(description="HTML: the text is escaped; matches are wrapped in <mark>")
    url: str


class SearchOut(BaseModel):
    query: str
    locale: str
    results: list[SearchResult]


class SuggestOut(BaseModel):
    suggestion_id: str = Field(description="Send it back with /deflections to report the outcome")
    locale: str
    results: list[SearchResult]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str = Field(min_length=1, max_length=120, pattern=SLUG_PATTERN)
    locale: str
    helpful: bool
    comment: StoredText = Field(default="", max_length=1000)
    source: Channel = "web"

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return check_locale(value)


class DeflectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suggestion_id: str = Field(min_length=8, max_length=64, pattern=SUGGESTION_ID_PATTERN)
    outcome: DeflectionOutcome
    channel: Channel
    locale: str
    slug: str | None = Field(default=None, max_length=120, pattern=SLUG_PATTERN)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return check_locale(value)


class ChannelDeflection(BaseModel):
    channel: str
    suggested: int = Field(description="Questions that were shown suggested articles")
    opened: int = Field(description="Of those, questions where the customer opened an article")
    resolved: int = Field(
        description="Of those, questions the customer said an article solved, without then "
        "contacting support anyway (deflected)"
    )
    not_resolved: int = Field(description="Questions sent to support despite the suggestions")
    rate: float = Field(description="resolved / suggested, 0 when nothing was suggested")


class ArticleDeflection(BaseModel):
    slug: str
    locale: str
    title: str
    opened: int
    resolved: int


class DeflectionReport(BaseModel):
    since: datetime
    until: datetime
    channels: list[ChannelDeflection]
    suggested: int
    opened: int
    resolved: int
    not_resolved: int
    rate: float
    articles: list[ArticleDeflection] = Field(
        description="The articles that solved the most questions, most first"
    )


class IndexStatus(BaseModel):
    version: int
    articles: dict[str, int]
    semantic: Literal["off", "building", "ready"]
    # The English sentence encoder's stage (English locales only; docs/helpcenter.md).
    english: Literal["off", "building", "ready"]


class FeedbackComment(BaseModel):
    """One reader's answer that came with a comment (already through the secret shield)."""

    helpful: bool
    comment: str
    source: str
    created_at: datetime


class FeedbackSummary(BaseModel):
    """How readers rated one article, and what the latest of them wrote, newest first."""

    slug: str
    locale: str
    title: str
    helpful: int
    not_helpful: int
    total: int
    # helpful / total; None while nobody has answered.
    helpful_ratio: float | None
    comments: list[FeedbackComment]
