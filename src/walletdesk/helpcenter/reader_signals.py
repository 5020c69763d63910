"""What readers tell about articles: "Was this helpful?" answers, and what became of the
articles suggested to them (deflection: shown, opened, solved). Written by public pages, the
API and the channels' suggestion paths; read back by queries.py's reports.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.errors import NotFound
from walletdesk.db import utcnow
from walletdesk.helpcenter.models import (
    Article,
    ArticleFeedback,
    DeflectionEvent,
    DeflectionOutcome,
)
from walletdesk.helpcenter.queries import get_article
from walletdesk.helpcenter.schemas import DeflectionIn, FeedbackIn
from walletdesk.security.shield import shield_text


async def record_feedback(session: AsyncSession, data: FeedbackIn) -> Article:
    """A reader's "Was this helpful?" answer; counted on the article for popularity."""
    article, _ = await get_article(session, data.locale, data.slug)
    session.add(
        ArticleFeedback(
            article_id=article.id,
            helpful=data.helpful,
            comment=shield_text(data.comment).text[:1000],
            source=data.source,
            created_at=utcnow(),
        )
    )
    counter = Article.helpful_count if data.helpful else Article.unhelpful_count
    await session.execute(
        update(Article).where(Article.id == article.id).values({counter: counter + 1})
    )
    return article


async def record_deflection(session: AsyncSession, data: DeflectionIn) -> None:
    """What became of a set of suggestions: shown, opened, or it solved the question."""
    article_id = None
    if data.slug:
        article_id = await session.scalar(
            select(Article.id).where(Article.locale == data.locale, Article.slug == data.slug)
        )
        if article_id is None:
            raise NotFound(f"no article {data.slug!r} in {data.locale}")
    await _add_event(
        session, data.suggestion_id, data.channel, data.locale, data.outcome, article_id
    )


async def record_solved_on_article(
    session: AsyncSession, suggestion_id: str, article: Article
) -> bool:
    """The customer came to an article from a suggestion and said it solved the question.

    Counts for the channel that showed the suggestion; False (nothing recorded) when no
    channel reported that suggestion as shown, so a made-up id in a link counts for nothing.
    """
    channel = await _shown_on(session, suggestion_id)
    if channel is None:
        return False
    await _add_event(
        session, suggestion_id, channel, article.locale, DeflectionOutcome.RESOLVED, article.id
    )
    return True


async def record_opened_on_article(
    session: AsyncSession, suggestion_id: str, article: Article
) -> bool:
    """The customer followed a suggestion's link (its `?s=`, in the email acknowledgement or
    the chat widget) to this article: `opened`, for the channel that showed the suggestion.

    Once per suggestion and article: False (nothing recorded) when it is recorded already
    (a reload) or no channel reported the suggestion shown. The widget also reports its
    clicks itself; the report counts a question's opened events once.
    """
    channel = await _shown_on(session, suggestion_id)
    if channel is None:
        return False
    already = await session.scalar(
        select(DeflectionEvent.id)
        .where(
            DeflectionEvent.suggestion_id == suggestion_id,
            DeflectionEvent.outcome == DeflectionOutcome.OPENED,
            DeflectionEvent.article_id == article.id,
        )
        .limit(1)
    )
    if already is not None:
        return False
    await _add_event(
        session, suggestion_id, channel, article.locale, DeflectionOutcome.OPENED, article.id
    )
    return True


async def _shown_on(session: AsyncSession, suggestion_id: str) -> str | None:
    """The channel that reported showing the suggestion `suggestion_id`, if any did."""
    channel: str | None = await session.scalar(
        select(DeflectionEvent.channel)
        .where(
            DeflectionEvent.suggestion_id == suggestion_id,
            DeflectionEvent.outcome == DeflectionOutcome.SHOWN,
        )
        .limit(1)
    )
    return channel


async def _add_event(
    session: AsyncSession,
    suggestion_id: str,
    channel: str,
    locale: str,
    outcome: DeflectionOutcome,
    article_id: int | None,
) -> None:
    session.add(
        DeflectionEvent(
            suggestion_id=suggestion_id,
            channel=channel,
            locale=locale,
            outcome=outcome,
            article_id=article_id,
            created_at=utcnow(),
        )
    )
    await session.flush()
