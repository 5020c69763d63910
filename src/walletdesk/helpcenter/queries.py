"""Reading help-center content: what public pages, the API and the search index need."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.errors import NotFound
from walletdesk.helpcenter.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    Category,
    DeflectionEvent,
    DeflectionOutcome,
    IndexVersion,
    SimilarQuestion,
)
from walletdesk.helpcenter.rendering import plain_text
from walletdesk.helpcenter.schemas import (
    ArticleOut,
    ChannelDeflection,
    DeflectionReport,
    RevisionOut,
)
from walletdesk.helpcenter.search.documents import SearchDoc


async def index_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(IndexVersion.version).where(IndexVersion.id == 1)) or 0)


async def get_article(
    session: AsyncSession, locale: str, slug: str, *, published_only: bool = True
) -> tuple[Article, Category]:
    query = (
        select(Article, Category)
        .join(Category, Category.id == Article.category_id)
        .where(Article.locale == locale, Article.slug == slug)
    )
    if published_only:
        query = query.where(Article.status == ArticleStatus.PUBLISHED)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound(f"no article {slug!r} in {locale}")
    return row[0], row[1]


async def questions_of(session: AsyncSession, article_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if not article_ids:
        return found
    rows = await session.execute(
        select(SimilarQuestion.article_id, SimilarQuestion.text)
        .where(SimilarQuestion.article_id.in_(article_ids))
        .order_by(SimilarQuestion.id)
    )
    for article_id, text in rows:
        found[article_id].append(text)
    return found


def article_out(article: Article, category: Category, questions: list[str]) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        slug=article.slug,
        locale=article.locale,
        translation_group=article.translation_group,
        title=article.title,
        body=article.body_md,
        body_html=article.body_html,
        category=category.name,
        keywords=list(article.keywords),
        questions=questions,
        status=article.status,
        revision=article.revision,
        helpful_count=article.helpful_count,
        unhelpful_count=article.unhelpful_count,
        updated_at=article.updated_at,
        published_at=article.published_at,
    )


async def list_articles(
    session: AsyncSession,
    *,
    locale: str | None = None,
    status: str | None = None,
    category_id: int | None = None,
    limit: int | None = None,
) -> Sequence[tuple[Article, Category]]:
    query = (
        select(Article, Category)
        .join(Category, Category.id == Article.category_id)
        .order_by(Article.locale, Category.position, Article.position, Article.id)
    )
    if locale:
        query = query.where(Article.locale == locale)
    if status:
        query = query.where(Article.status == status)
    if category_id is not None:
        query = query.where(Article.category_id == category_id)
    if limit:
        query = query.limit(limit)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def categories(session: AsyncSession, locale: str) -> list[tuple[Category, int]]:
    """A locale's categories that have published articles, with how many."""
    rows = await session.execute(
        select(Category, func.count(Article.id))
        .join(Article, Article.category_id == Category.id)
        .where(Category.locale == locale, Article.status == ArticleStatus.PUBLISHED)
        .group_by(Category.id)
        .order_by(Category.position, Category.id)
    )
    return [(row[0], int(row[1])) for row in rows]


async def get_category(session: AsyncSession, locale: str, slug: str) -> Category:
    category = await session.scalar(
        select(Category).where(Category.locale == locale, Category.slug == slug)
    )
    if category is None:
        raise NotFound(f"no category {slug!r} in {locale}")
    return category


async def popular_articles(session: AsyncSession, locale: str, limit: int = 8) -> list[Article]:
    """Most often marked helpful; the editors' order breaks ties (and fills a new site)."""
    rows = await session.scalars(
        select(Article)
        .where(Article.locale == locale, Article.status == ArticleStatus.PUBLISHED)
        .order_by(
            (Article.helpful_count - Article.unhelpful_count).desc(), Article.position, Article.id
        )
        .limit(limit)
    )
    return list(rows)


async def translations(session: AsyncSession, article: Article) -> dict[str, str]:
    """locale → slug of the published versions of the same article."""
    rows = await session.execute(
        select(Article.locale, Article.slug).where(
            Article.translation_group == article.translation_group,
            Article.status == ArticleStatus.PUBLISHED,
        )
    )
    return {locale: slug for locale, slug in rows}


async def revisions(session: AsyncSession, article_id: int) -> list[RevisionOut]:
    rows = await session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.revision.desc())
    )
    return [
        RevisionOut(
            revision=r.revision,
            editor=r.editor,
            created_at=r.created_at,
            **{k: r.snapshot[k] for k in ("title", "body", "category", "keywords", "questions")},
            status=r.snapshot["status"],
        )
        for r in rows
    ]


async def load_search_docs(session: AsyncSession) -> list[SearchDoc]:
    """Every published article as the search index sees it."""
    rows = (
        await session.execute(
            select(Article, Category.name)
            .join(Category, Category.id == Article.category_id)
            .where(Article.status == ArticleStatus.PUBLISHED)
            .order_by(Article.id)
        )
    ).all()
    questions = await questions_of(session, [row[0].id for row in rows])
    return [
        SearchDoc(
            article_id=article.id,
            revision=article.revision,
            slug=article.slug,
            locale=article.locale,
            title=article.title,
            body_text=plain_text(article.body_html),
            category=category_name,
            keywords=tuple(article.keywords),
            questions=tuple(questions.get(article.id, ())),
        )
        for article, category_name in rows
    ]


async def deflection_report(session: AsyncSession, since: datetime) -> DeflectionReport:
    """Per channel: suggestion sets shown, how many a customer said solved their question."""
    rows = await session.execute(
        select(
            DeflectionEvent.channel,
            DeflectionEvent.outcome,
            func.count(func.distinct(DeflectionEvent.suggestion_id)),
        )
        .where(
            DeflectionEvent.created_at >= since,
            DeflectionEvent.outcome.in_([DeflectionOutcome.SHOWN, DeflectionOutcome.RESOLVED]),
        )
        .group_by(DeflectionEvent.channel, DeflectionEvent.outcome)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"shown": 0, "resolved": 0})
    for channel, outcome, count in rows:
        counts[channel][outcome] = int(count)

    def rate(resolved: int, shown: int) -> float:
        return round(resolved / shown, 4) if shown else 0.0

    channels = [
        ChannelDeflection(
            channel=channel,
            suggested=c["shown"],
            resolved=c["resolved"],
            rate=rate(c["resolved"], c["shown"]),
        )
        for channel, c in sorted(counts.items())
    ]
    shown = sum(c.suggested for c in channels)
    resolved = sum(c.resolved for c in channels)
    return DeflectionReport(
        since=since,
        channels=channels,
        suggested=shown,
        resolved=resolved,
        rate=rate(resolved, shown),
    )
