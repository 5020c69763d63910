"""Reading help-center content: what public pages, the API and the search index need."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.errors import NotFound
from walletdesk.db import utcnow
from walletdesk.helpcenter.models import (
    Article,
    ArticleFeedback,
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
    ArticleDeflection,
    ArticleOut,
    ChannelDeflection,
    DeflectionReport,
    FeedbackComment,
    FeedbackSummary,
    RevisionOut,
    is_category_slug,
    is_slug,
)
from walletdesk.helpcenter.search.documents import SearchDoc


async def index_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(IndexVersion.version).where(IndexVersion.id == 1)) or 0)


async def get_article(
    session: AsyncSession, locale: str, slug: str, *, published_only: bool = True
) -> tuple[Article, Category]:
    if not is_slug(slug):
        raise NotFound(f"no article {slug!r} in {locale}")
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
    if not is_category_slug(slug):
        raise NotFound(f"no category {slug!r} in {locale}")
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


async def linked_versions(session: AsyncSession, article: Article) -> list[Article]:
    """The article's versions in other locales, whatever their status (the editor's view)."""
    rows = await session.scalars(
        select(Article)
        .where(
            Article.translation_group == article.translation_group,
            Article.locale != article.locale,
        )
        .order_by(Article.locale, Article.id)
    )
    return list(rows)


async def sitemap_entries(session: AsyncSession) -> list[tuple[Article, dict[str, str]]]:
    """Every published article with its published versions (locale → slug, itself included)."""
    articles = list(
        await session.scalars(
            select(Article)
            .where(Article.status == ArticleStatus.PUBLISHED)
            .order_by(Article.locale, Article.id)
        )
    )
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    for found in articles:
        groups[found.translation_group].setdefault(found.locale, found.slug)
    return [(found, groups[found.translation_group]) for found in articles]


# --- reader feedback ("Was this helpful?") -----------------------------------------------

RECENT_COMMENTS = 20


def helpful_ratio(helpful: int, not_helpful: int) -> float | None:
    total = helpful + not_helpful
    return round(helpful / total, 4) if total else None


async def recent_feedback_comments(
    session: AsyncSession, article_id: int, limit: int = RECENT_COMMENTS
) -> list[FeedbackComment]:
    """The article's latest answers that carry a comment, newest first."""
    rows = await session.scalars(
        select(ArticleFeedback)
        .where(ArticleFeedback.article_id == article_id, ArticleFeedback.comment != "")
        .order_by(ArticleFeedback.created_at.desc(), ArticleFeedback.id.desc())
        .limit(limit)
    )
    return [
        FeedbackComment(
            helpful=row.helpful, comment=row.comment, source=row.source, created_at=row.created_at
        )
        for row in rows
    ]


async def feedback_summary(
    session: AsyncSession, article: Article, limit: int = RECENT_COMMENTS
) -> FeedbackSummary:
    """The article's counts (the counters `reader_signals.record_feedback` keeps in step with
    each answer) and its `limit` latest comments."""
    helpful, not_helpful = article.helpful_count, article.unhelpful_count
    return FeedbackSummary(
        slug=article.slug,
        locale=article.locale,
        title=article.title,
        helpful=helpful,
        not_helpful=not_helpful,
        total=helpful + not_helpful,
        helpful_ratio=helpful_ratio(helpful, not_helpful),
        comments=await recent_feedback_comments(session, article.id, limit),
    )


def _revision_out(row: ArticleRevision) -> RevisionOut:
    snapshot = row.snapshot
    return RevisionOut(
        revision=row.revision,
        editor=row.editor,
        created_at=row.created_at,
        **{k: snapshot[k] for k in ("title", "body", "category", "keywords", "questions")},
        status=snapshot["status"],
    )


async def revision(session: AsyncSession, article_id: int, number: int) -> RevisionOut:
    found = await session.scalar(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article_id, ArticleRevision.revision == number
        )
    )
    if found is None:
        raise NotFound(f"no revision {number} of this article")
    return _revision_out(found)


async def revisions(session: AsyncSession, article_id: int) -> list[RevisionOut]:
    rows = await session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.revision.desc())
    )
    return [_revision_out(r) for r in rows]


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


async def deflection_report(
    session: AsyncSession, since: datetime, until: datetime | None = None, *, top: int = 10
) -> DeflectionReport:
    """How often suggested articles answered a question instead of an agent, per channel.

    The unit is one question, i.e. one suggestion_id, counted once it was reported shown
    (events of ids never shown are ignored, so a client cannot push the rate past 100 %).
    It is deflected when the customer said an article solved it and did not contact support
    anyway. Events are taken from [since, until); the channel is the one that showed it.
    """
    until = until or utcnow()
    event = DeflectionEvent
    window = (event.created_at >= since, event.created_at < until)

    def flag(outcome: DeflectionOutcome) -> Any:
        return func.max(case((event.outcome == outcome, 1), else_=0))

    question = (
        select(
            event.suggestion_id.label("suggestion_id"),
            func.max(case((event.outcome == DeflectionOutcome.SHOWN, event.channel))).label(
                "channel"
            ),
            flag(DeflectionOutcome.SHOWN).label("shown"),
            flag(DeflectionOutcome.OPENED).label("opened"),
            flag(DeflectionOutcome.RESOLVED).label("resolved"),
            flag(DeflectionOutcome.NOT_RESOLVED).label("not_resolved"),
        )
        .where(*window)
        .group_by(event.suggestion_id)
        .subquery()
    )
    deflected = and_(question.c.resolved == 1, question.c.not_resolved == 0)
    rows = await session.execute(
        select(
            question.c.channel,
            func.count(),
            func.sum(question.c.opened),
            func.sum(case((deflected, 1), else_=0)),
            func.sum(question.c.not_resolved),
        )
        .where(question.c.shown == 1)
        .group_by(question.c.channel)
        .order_by(question.c.channel)
    )
    channels = [
        ChannelDeflection(
            channel=channel,
            suggested=int(shown),
            opened=int(opened or 0),
            resolved=int(resolved or 0),
            not_resolved=int(escalated or 0),
            rate=_rate(int(resolved or 0), int(shown)),
        )
        for channel, shown, opened, resolved, escalated in rows
    ]
    shown = sum(c.suggested for c in channels)
    resolved = sum(c.resolved for c in channels)
    return DeflectionReport(
        since=since,
        until=until,
        channels=channels,
        suggested=shown,
        opened=sum(c.opened for c in channels),
        resolved=resolved,
        not_resolved=sum(c.not_resolved for c in channels),
        rate=_rate(resolved, shown),
        articles=await _top_articles(session, window, top),
    )


def _rate(resolved: int, shown: int) -> float:
    return round(resolved / shown, 4) if shown else 0.0


async def _top_articles(
    session: AsyncSession, window: tuple[Any, ...], top: int
) -> list[ArticleDeflection]:
    """The articles named by "resolved" events of deflected questions, with how many shown
    questions opened them.

    Each event learns its question's flags from a window function over the same scan, not
    from a join with the per-question aggregate: PostgreSQL cannot estimate how many rows
    that aggregate's filter keeps and chose nested loops that ran for minutes at 200,000
    questions (bench/deflection_report.py).
    """
    event = DeflectionEvent

    def of_question(outcome: DeflectionOutcome) -> Any:
        return func.max(case((event.outcome == outcome, 1), else_=0)).over(
            partition_by=event.suggestion_id
        )

    named = (
        select(
            event.suggestion_id.label("suggestion_id"),
            event.outcome.label("outcome"),
            event.article_id.label("article_id"),
            of_question(DeflectionOutcome.SHOWN).label("shown"),
            of_question(DeflectionOutcome.NOT_RESOLVED).label("not_resolved"),
        )
        .where(*window)
        .subquery()
    )
    solved_here = and_(named.c.outcome == DeflectionOutcome.RESOLVED, named.c.not_resolved == 0)
    solved = func.count(func.distinct(case((solved_here, named.c.suggestion_id))))
    opened = func.count(
        func.distinct(case((named.c.outcome == DeflectionOutcome.OPENED, named.c.suggestion_id)))
    )
    ranked = (
        select(named.c.article_id, opened.label("opened"), solved.label("solved"))
        .where(
            named.c.shown == 1,
            named.c.article_id.is_not(None),
            named.c.outcome.in_([DeflectionOutcome.OPENED, DeflectionOutcome.RESOLVED]),
        )
        .group_by(named.c.article_id)
        .having(solved > 0)
        .order_by(solved.desc(), opened.desc(), named.c.article_id)
        .limit(top)
        .subquery()
    )
    rows = await session.execute(
        select(Article.slug, Article.locale, Article.title, ranked.c.opened, ranked.c.solved)
        .join(ranked, ranked.c.article_id == Article.id)
        .order_by(ranked.c.solved.desc(), ranked.c.opened.desc(), Article.id)
    )
    return [
        ArticleDeflection(slug=slug, locale=locale, title=title, opened=int(o), resolved=int(r))
        for slug, locale, title, o, r in rows
    ]
