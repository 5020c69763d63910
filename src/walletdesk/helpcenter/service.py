"""Changing help-center content. The only writer of articles; the boundary owns the
transaction. What readers tell about them (feedback, deflection) is reader_signals.py.

Every change to what search sees bumps the index version in the same transaction, so every
node rebuilds its in-memory index from the committed state (see search/holder.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pypinyin import lazy_pinyin
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput, NotFound, PermissionDenied
from walletdesk.core.text import unstorable_reason
from walletdesk.db import after_commit, utcnow
from walletdesk.helpcenter.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    Category,
    IndexVersion,
    SimilarQuestion,
)
from walletdesk.helpcenter.queries import get_article
from walletdesk.helpcenter.rendering import render_markdown
from walletdesk.helpcenter.schemas import ArticleIn, is_slug
from walletdesk.helpcenter.search.holder import mark_changed
from walletdesk.security.shield import shield_text

TICKET_SOURCE = "ticket"


def check_can_edit(actor: Actor) -> None:
    """Articles are written by supervisors and admins (and the system, for imports)."""
    if not actor.sees_all_queues:
        raise PermissionDenied("only supervisors and admins may edit help-center articles")


async def bump_index_version(session: AsyncSession) -> None:
    await session.execute(
        update(IndexVersion).where(IndexVersion.id == 1).values(version=IndexVersion.version + 1)
    )

    async def notify() -> None:
        mark_changed()

    after_commit(session, notify)


def category_slug(name: str) -> str:
    """An ASCII slug for a category name: its words, or the pinyin of a Chinese name."""
    words = re.findall(r"[a-z0-9]+", " ".join(lazy_pinyin(name)).lower())
    return "-".join(words)[:100].rstrip("-") or "category"


async def _category(session: AsyncSession, locale: str, name: str) -> tuple[Category, bool]:
    found = await session.scalar(
        select(Category).where(Category.locale == locale, Category.name == name)
    )
    if found is not None:
        return found, False
    base = slug = category_slug(name)
    taken = set(
        await session.scalars(
            select(Category.slug).where(Category.locale == locale, Category.slug.like(f"{base}%"))
        )
    )
    suffix = 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    position = await session.scalar(
        select(func.coalesce(func.max(Category.position), 0)).where(Category.locale == locale)
    )
    category = Category(locale=locale, slug=slug, name=name, position=int(position or 0) + 1)
    session.add(category)
    await session.flush()
    return category, True


@dataclass(frozen=True, slots=True)
class Saved:
    article: Article
    outcome: str  # "created", "updated" or "unchanged"
    category_created: bool


class TranslationGroupTaken(InvalidInput):
    """The translation group named for an article already holds another article of the
    same locale (`other`, its slug). A group links one article per language: the public
    language switch leads to the one version it finds."""

    def __init__(self, group: str, locale: str, other: str) -> None:
        super().__init__(
            "translation_group",
            f"{group!r} already holds the {locale} article {other!r}; a translation group "
            "links one article per language",
        )
        self.group, self.locale, self.other = group, locale, other


async def _rival_in_group(session: AsyncSession, group: str, locale: str, slug: str) -> str | None:
    """The slug of an article of `locale` other than `slug` in `group`, if there is one."""
    found: str | None = await session.scalar(
        select(Article.slug)
        .where(Article.translation_group == group, Article.locale == locale, Article.slug != slug)
        .order_by(Article.id)
        .limit(1)
    )
    return found


async def _group_for(session: AsyncSession, data: ArticleIn, article: Article | None) -> str:
    """The translation group the article is saved with.

    A group `data` names must not hold another article of its locale already
    (TranslationGroupTaken); joining it again is no change, so an old conflict does not
    stop an edit. With no group named, an article keeps its own, and a new article takes
    its slug (the import format links versions by it), or a group of its own when that
    slug already links another article of its locale.
    """
    if data.translation_group:
        group = data.translation_group
        if article is None or article.translation_group != group:
            rival = await _rival_in_group(session, group, data.locale, data.slug)
            if rival is not None:
                raise TranslationGroupTaken(group, data.locale, rival)
        return group
    if article is not None:
        return article.translation_group
    if await _rival_in_group(session, data.slug, data.locale, data.slug) is None:
        return data.slug
    return await _free_group(session, data.slug, data.locale)


def _snapshot(data: ArticleIn, questions: list[str], group: str) -> dict[str, Any]:
    return {
        "title": data.title,
        "body": data.body,
        "category": data.category,
        "keywords": list(data.keywords),
        "questions": questions,
        "status": str(data.status),
        "translation_group": group,
    }


async def save_article(
    session: AsyncSession,
    actor: Actor,
    data: ArticleIn,
    *,
    position: int | None = None,
    source: str = "editor",
    restored_from: int | None = None,
) -> Saved:
    """Create the article (locale, slug) or update it; each real change is a new revision.

    Similar questions are replaced by `data.questions`, except those agents added from
    tickets, which an import or an edit that does not mention them keeps. A translation
    group holds one article per locale (see `_group_for`).
    """
    check_can_edit(actor)
    category, category_created = await _category(session, data.locale, data.category)
    article = await session.scalar(
        select(Article)
        .where(Article.locale == data.locale, Article.slug == data.slug)
        .with_for_update()
    )
    kept: list[str] = []
    old_questions: list[str] = []
    if article is not None:
        rows = await session.execute(
            select(SimilarQuestion.text, SimilarQuestion.source)
            .where(SimilarQuestion.article_id == article.id)
            .order_by(SimilarQuestion.id)
        )
        for text, question_source in rows:
            old_questions.append(text)
            if question_source == TICKET_SOURCE and text not in data.questions:
                kept.append(text)
    questions = list(data.questions) + kept
    group = await _group_for(session, data, article)
    snapshot = _snapshot(data, questions, group)
    now = utcnow()
    if article is None:
        article = Article(
            slug=data.slug,
            locale=data.locale,
            translation_group=group,
            revision=1,
            position=position or 0,
            created_at=now,
            helpful_count=0,
            unhelpful_count=0,
        )
        outcome = "created"
    else:
        current = {
            "title": article.title,
            "body": article.body_md,
            "category": (await session.get(Category, article.category_id) or category).name,
            "keywords": list(article.keywords),
            "questions": old_questions,
            "status": article.status,
            "translation_group": article.translation_group,
        }
        # Question order is only the order they were added in; it is not an edit.
        same_questions = sorted(old_questions) == sorted(questions)
        if same_questions and {**current, "questions": questions} == snapshot:
            if position is not None:
                article.position = position  # display order only: not a revision
            return Saved(article, "unchanged", category_created)
        article.revision += 1
        outcome = "updated"
    article.title = data.title
    article.body_md = data.body
    article.body_html = render_markdown(data.body)
    article.category_id = category.id
    article.keywords = list(data.keywords)
    article.translation_group = group
    if position is not None:
        article.position = position
    if data.status == ArticleStatus.PUBLISHED and article.status != ArticleStatus.PUBLISHED:
        article.published_at = now
    article.status = data.status
    article.updated_at = now
    session.add(article)
    await session.flush()
    await _replace_questions(session, article.id, questions, old_questions, source)
    session.add(
        ArticleRevision(
            article_id=article.id,
            revision=article.revision,
            snapshot=snapshot,
            editor=actor.name,
            created_at=now,
        )
    )
    await bump_index_version(session)
    await record(
        session,
        actor,
        f"helpcenter.article.{outcome}",
        "article",
        article.id,
        slug=article.slug,
        locale=article.locale,
        revision=article.revision,
        **({"restored_from": restored_from} if restored_from is not None else {}),
    )
    return Saved(article, outcome, category_created)


class TranslationLinkError(InvalidInput):
    """Why an article cannot be the translation of `target`; `reason` ("missing",
    "same_locale" or "taken", with `other` the slug already linked) lets each caller say
    it in its reader's language."""

    def __init__(self, reason: str, target: str, other: str = "") -> None:
        messages = {
            "missing": f"there is no article {target!r} in another language",
            "same_locale": f"{target!r} is in the same language; link an article in another",
            "taken": f"{target!r} is already the translation of {other!r}",
        }
        super().__init__("translation_of", messages[reason])
        self.reason, self.target, self.other = reason, target, other


async def _group_taken(session: AsyncSession, group: str, slug: str, locale: str) -> bool:
    """Whether an article other than (locale, slug) already uses `group`."""
    found = await session.scalar(
        select(Article.id)
        .where(
            Article.translation_group == group,
            ~((Article.locale == locale) & (Article.slug == slug)),
        )
        .limit(1)
    )
    return found is not None


async def translation_group_for(
    session: AsyncSession, locale: str, slug: str, translation_of: str
) -> str | None:
    """The translation group that links (locale, slug) to the article `translation_of`, the
    slug of its version in another locale; with no `translation_of`, a group of its own.

    Refused (TranslationLinkError) when there is no such article, it is in the same locale,
    or it is already linked to another article of this locale: a group holds one article per
    locale, or the public language switch could not know where to lead. None: keep the
    default (a new article's own slug, which the import format links by).
    """
    target = translation_of.strip()
    if target and not is_slug(target):
        # No article has that slug; name it with its odd characters escaped.
        shown = target if unstorable_reason(target) is None else repr(target)[1:-1]
        raise TranslationLinkError("missing", shown)
    current = await session.scalar(
        select(Article.translation_group).where(Article.locale == locale, Article.slug == slug)
    )
    if target:
        candidates = list(
            await session.scalars(
                select(Article).where(Article.slug == target).order_by(Article.id).with_for_update()
            )
        )
        other_locale = [a for a in candidates if a.locale != locale]
        if not other_locale:
            raise TranslationLinkError("same_locale" if candidates else "missing", target)
        linked = other_locale[0]
        rival = await _rival_in_group(session, linked.translation_group, locale, slug)
        if rival is not None:
            raise TranslationLinkError("taken", target, rival)
        return linked.translation_group
    if current is None:
        # A new article keeps the slug as its group, unless that would put it beside another
        # article of its own locale.
        taken = await _rival_in_group(session, slug, locale, slug)
        return None if taken is None else await _free_group(session, slug, locale)
    if not await _group_taken(session, current, slug, locale):
        return current
    return await _free_group(session, slug, locale)


async def _free_group(session: AsyncSession, slug: str, locale: str) -> str:
    """A group no other article uses, named after the slug (unlinking an article)."""
    base = slug[:110]
    group, suffix = base, 2
    while await _group_taken(session, group, slug, locale):
        group, suffix = f"{base}-{suffix}", suffix + 1
    return group


async def restore_revision(
    session: AsyncSession, actor: Actor, locale: str, slug: str, number: int
) -> Saved:
    """Bring back the text of an old revision as a new revision (audited as an update with
    `restored_from`). Status and translation link stay as they are now: restoring a text
    does not publish, unpublish or unlink it."""
    check_can_edit(actor)
    article, _ = await get_article(session, locale, slug, published_only=False)
    snapshot = await session.scalar(
        select(ArticleRevision.snapshot).where(
            ArticleRevision.article_id == article.id, ArticleRevision.revision == number
        )
    )
    if snapshot is None:
        raise NotFound(f"no revision {number} of {locale}/{slug}")
    data = ArticleIn(
        slug=slug,
        locale=locale,
        title=snapshot["title"],
        body=snapshot["body"],
        category=snapshot["category"],
        keywords=list(snapshot["keywords"]),
        questions=list(snapshot["questions"]),
        status=ArticleStatus(article.status),
        translation_group=article.translation_group,
    )
    return await save_article(session, actor, data, restored_from=number)


async def _replace_questions(
    session: AsyncSession, article_id: int, wanted: list[str], existing: list[str], source: str
) -> None:
    gone = [q for q in existing if q not in wanted]
    if gone:
        await session.execute(
            delete(SimilarQuestion).where(
                SimilarQuestion.article_id == article_id, SimilarQuestion.text.in_(gone)
            )
        )
    new = [q for q in wanted if q not in existing]
    if new:
        now = utcnow()
        await session.execute(
            insert(SimilarQuestion),
            [
                {"article_id": article_id, "text": q, "source": source, "created_at": now}
                for q in new
            ],
        )


async def set_article_status(
    session: AsyncSession, actor: Actor, locale: str, slug: str, status: ArticleStatus
) -> Article:
    """Publish, unpublish (draft) or archive an article, as a new revision."""
    check_can_edit(actor)
    article, category = await get_article(session, locale, slug, published_only=False)
    questions = list(
        await session.scalars(
            select(SimilarQuestion.text)
            .where(SimilarQuestion.article_id == article.id)
            .order_by(SimilarQuestion.id)
        )
    )
    data = ArticleIn(
        slug=slug,
        locale=locale,
        title=article.title,
        body=article.body_md,
        category=category.name,
        keywords=list(article.keywords),
        questions=questions,
        status=status,
        translation_group=article.translation_group,
    )
    return (await save_article(session, actor, data)).article


def _storable(text: str) -> str:
    """`text` without NUL characters, and with "?" for each lone surrogate."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


async def add_similar_question(
    session: AsyncSession,
    actor: Actor,
    locale: str,
    slug: str,
    text: str,
    ticket_number: str | None = None,
) -> bool:
    """Any agent may add a customer's real phrasing (from a ticket) to an article.

    The text passes the secret shield first: a pasted card number never reaches the index.
    Like the shield and the spacing, characters no database stores (a NUL, a lone
    surrogate) are taken out of the phrasing; the API refuses them before (QuestionIn).
    Returns False when the article already has that question.
    """
    if actor.kind == "system" and ticket_number is None:
        raise InvalidInput("ticket_number", "the system adds questions only from tickets")
    if ticket_number is not None and (reason := unstorable_reason(ticket_number)):
        raise InvalidInput("ticket_number", f"the text {reason}")
    article, _ = await get_article(session, locale, slug, published_only=False)
    cleaned = " ".join(shield_text(_storable(text)).text.split())[:500]
    if not cleaned:
        raise InvalidInput("text", "must not be empty")
    exists = await session.scalar(
        select(SimilarQuestion.id).where(
            SimilarQuestion.article_id == article.id, SimilarQuestion.text == cleaned
        )
    )
    if exists is not None:
        return False
    session.add(
        SimilarQuestion(
            article_id=article.id,
            text=cleaned,
            source=TICKET_SOURCE if ticket_number else "editor",
            ticket_number=ticket_number,
            created_at=utcnow(),
        )
    )
    article.updated_at = utcnow()
    await session.flush()
    await bump_index_version(session)
    await record(
        session, actor, "helpcenter.question.added", "article", article.id, ticket=ticket_number
    )
    return True
