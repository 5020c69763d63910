"""Help-center JSON API: public search, suggestions, feedback and deflection reporting;
article management for agents (editing for supervisors and admins)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import HTTPException

from walletdesk.core.audit.service import record
from walletdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from walletdesk.db import utcnow
from walletdesk.helpcenter import queries, reader_signals, service
from walletdesk.helpcenter.models import LOCALES, ArticleStatus
from walletdesk.helpcenter.ratelimit import retry_after_for
from walletdesk.helpcenter.rendering import render_markdown
from walletdesk.helpcenter.schemas import (
    ArticleFields,
    ArticleIn,
    ArticleOut,
    ArticleSummary,
    DeflectionIn,
    DeflectionReport,
    FeedbackIn,
    FeedbackSummary,
    IndexStatus,
    PreviewIn,
    PreviewOut,
    QuestionIn,
    RevisionOut,
    SearchOut,
    SearchResult,
    SuggestOut,
    is_slug,
)
from walletdesk.helpcenter.search.engine import MAX_QUERY_CHARS, Hit
from walletdesk.helpcenter.search.holder import search_service
from walletdesk.helpcenter.suggest import article_path, guess_locale, suggest_articles
from walletdesk.http.deps import ApiActor, RuntimeDep

router = APIRouter(prefix="/api/v1/helpcenter", tags=["help center"])
LocaleParam = Literal["zh-CN", "en"]


def rate_limited(request: Request) -> None:
    """Public endpoints answer 429 with Retry-After when one address sends too much."""
    wait = retry_after_for(request)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many requests from this address; retry later",
            headers={"Retry-After": str(wait)},
        )


RateLimited = Annotated[None, Depends(rate_limited)]


def _result(hit: Hit) -> SearchResult:
    return SearchResult(
        slug=hit.slug,
        title=hit.title,
        locale=hit.locale,
        score=hit.score,
        snippet=hit.snippet,
        url=article_path(hit.locale, hit.slug),
    )


def _query(q: str) -> str:
    if not q.strip():
        raise InvalidInput("q", "must not be empty")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput("q", f"must be at most {MAX_QUERY_CHARS} characters")
    return q


@router.get("/search", response_model=SearchOut)
async def search(
    runtime: RuntimeDep,
    _limit: RateLimited,
    q: Annotated[str, Query(description="What the customer typed")],
    locale: Annotated[LocaleParam | None, Query(description="zh-CN or en; guessed if absent")] = (
        None
    ),
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """Published articles ranked for a query. Public; limited per client address."""
    query = _query(q)
    chosen = locale or guess_locale(query)
    hits = await search_service(runtime.db).search(query, chosen, limit)
    return SearchOut(query=query, locale=chosen, results=[_result(h) for h in hits])


@router.get("/suggest", response_model=SuggestOut)
async def suggest(
    runtime: RuntimeDep,
    _limit: RateLimited,
    q: Annotated[str, Query(max_length=20_000, description="The customer's message so far")],
    locale: LocaleParam | None = None,
    limit: Annotated[int, Query(ge=1, le=5)] = 3,
) -> SuggestOut:
    """Articles to offer before a question reaches an agent (for API clients; the chat
    widget asks /webchat/api/suggestions, which runs the same suggestion function).

    Report what the customer did with them through POST /deflections with `suggestion_id`.
    """
    found = await suggest_articles(runtime.db, q, locale, limit)
    return SuggestOut(
        suggestion_id=found.suggestion_id,
        locale=found.locale,
        results=[_result(h) for h in found.hits],
    )


@router.get("/status", response_model=IndexStatus)
async def index_status(runtime: RuntimeDep) -> IndexStatus:
    """The search index this node serves: version, articles per locale, semantic stages."""
    holder = search_service(runtime.db)
    engine = await holder.engine()
    return IndexStatus(
        version=holder.version,
        articles={loc: ix.size for loc, ix in engine.lexical.items()},
        semantic=holder.semantic_state,
        english=holder.english_state,
    )


@router.post("/feedback", status_code=status.HTTP_201_CREATED)
async def feedback(body: FeedbackIn, runtime: RuntimeDep, _limit: RateLimited) -> dict[str, str]:
    """A reader's "Was this helpful?" answer."""
    async with runtime.db.transaction() as session:
        await reader_signals.record_feedback(session, body)
    return {"status": "recorded"}


@router.post("/deflections", status_code=status.HTTP_201_CREATED)
async def deflection(
    body: DeflectionIn, runtime: RuntimeDep, _limit: RateLimited
) -> dict[str, str]:
    """What became of suggested articles: shown, opened, resolved ("this solved it")."""
    async with runtime.db.transaction() as session:
        await reader_signals.record_deflection(session, body)
    return {"status": "recorded"}


@router.get("/deflection-report", response_model=DeflectionReport)
async def deflection_report(
    actor: ApiActor, runtime: RuntimeDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> DeflectionReport:
    """Share of suggestion sets that customers said solved their question, per channel."""
    if not actor.sees_all_queues:
        raise PermissionDenied("only supervisors and admins may read the deflection report")
    async with runtime.db.transaction() as session:
        return await queries.deflection_report(session, utcnow() - timedelta(days=days))


# --- article management ------------------------------------------------------------------


def _locale(locale: str) -> str:
    if locale not in LOCALES:
        raise InvalidInput("locale", f"must be one of {', '.join(LOCALES)}")
    return locale


async def _article_out(runtime: RuntimeDep, locale: str, slug: str) -> ArticleOut:
    async with runtime.db.transaction() as session:
        article, category = await queries.get_article(session, locale, slug, published_only=False)
        questions = await queries.questions_of(session, [article.id])
        return queries.article_out(article, category, questions.get(article.id, []))


@router.get("/articles", response_model=list[ArticleSummary])
async def list_articles(
    actor: ApiActor,
    runtime: RuntimeDep,
    locale: LocaleParam | None = None,
    status_: Annotated[ArticleStatus | None, Query(alias="status")] = None,
) -> list[ArticleSummary]:
    """Every article, drafts included (agents look them up to send to customers)."""
    async with runtime.db.transaction() as session:
        rows = await queries.list_articles(session, locale=locale, status=status_)
    return [
        ArticleSummary(
            id=a.id,
            slug=a.slug,
            locale=a.locale,
            title=a.title,
            category=c.name,
            status=a.status,
            revision=a.revision,
            updated_at=a.updated_at,
        )
        for a, c in rows
    ]


@router.get("/articles/{locale}/{slug}", response_model=ArticleOut)
async def get_article(locale: str, slug: str, actor: ApiActor, runtime: RuntimeDep) -> ArticleOut:
    return await _article_out(runtime, _locale(locale), slug)


@router.post("/articles", status_code=status.HTTP_201_CREATED, response_model=ArticleOut)
async def create_article(body: ArticleIn, actor: ApiActor, runtime: RuntimeDep) -> ArticleOut:
    """Create an article (supervisors and admins). Default status: published; send "draft"
    to keep it off the public site."""
    async with runtime.db.transaction() as session:
        try:
            await queries.get_article(session, body.locale, body.slug, published_only=False)
        except NotFound:
            await service.save_article(session, actor, body)
        else:
            raise Conflict(f"article {body.slug!r} already exists in {body.locale}; use PUT")
    return await _article_out(runtime, body.locale, body.slug)


@router.put("/articles/{locale}/{slug}", response_model=ArticleOut)
async def update_article(
    locale: str, slug: str, body: ArticleFields, actor: ApiActor, runtime: RuntimeDep
) -> ArticleOut:
    """Replace an article's content (a new revision); creates it when it does not exist."""
    if not is_slug(slug):
        raise InvalidInput("slug", "use lowercase letters, digits and single hyphens (a-z, 0-9)")
    data = ArticleIn(slug=slug, locale=_locale(locale), **body.model_dump())
    async with runtime.db.transaction() as session:
        await service.save_article(session, actor, data)
    return await _article_out(runtime, locale, slug)


@router.get("/articles/{locale}/{slug}/revisions", response_model=list[RevisionOut])
async def article_revisions(
    locale: str, slug: str, actor: ApiActor, runtime: RuntimeDep
) -> list[RevisionOut]:
    service.check_can_edit(actor)
    async with runtime.db.transaction() as session:
        article, _ = await queries.get_article(session, _locale(locale), slug, published_only=False)
        await record(session, actor, "helpcenter.revisions.viewed", "article", article.id)
        return await queries.revisions(session, article.id)


@router.get("/articles/{locale}/{slug}/feedback", response_model=FeedbackSummary)
async def article_feedback(
    locale: str,
    slug: str,
    actor: ApiActor,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = queries.RECENT_COMMENTS,
) -> FeedbackSummary:
    """Readers' "Was this helpful?" answers to an article (supervisors and admins): the
    counts and the `limit` latest comments, newest first."""
    service.check_can_edit(actor)
    async with runtime.db.transaction() as session:
        article, _ = await queries.get_article(session, _locale(locale), slug, published_only=False)
        return await queries.feedback_summary(session, article, limit)


@router.post("/articles/{locale}/{slug}/questions", status_code=status.HTTP_201_CREATED)
async def add_question(
    locale: str, slug: str, body: QuestionIn, actor: ApiActor, runtime: RuntimeDep
) -> dict[str, bool]:
    """Add a customer's real question to an article (any agent, e.g. from a ticket)."""
    async with runtime.db.transaction() as session:
        added = await service.add_similar_question(
            session, actor, _locale(locale), slug, body.text, body.ticket_number
        )
    return {"added": added}


@router.post("/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, actor: ApiActor) -> PreviewOut:
    """The sanitised HTML an article body would publish as (editors' preview)."""
    service.check_can_edit(actor)
    return PreviewOut(html=render_markdown(body.body))
