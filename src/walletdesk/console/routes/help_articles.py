"""Help articles in the console: supervisors and admins list, write, preview and publish them;
any agent adds a customer's real question from a ticket to an article. The list and the editor
show readers' "Was this helpful?" answers, so an editor finds the articles that fail readers.

The help center's service does every change (and its audit); these routes parse the form,
check who may open the page, and render. Articles are addressed by (locale, slug), the help
center's own key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from walletdesk.console import labels
from walletdesk.console.i18n import N_, Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.routes import help_revisions
from walletdesk.console.routes.help_common import (
    ARTICLE_FIELD,
    ARTICLE_STATUS,
    load_article,
    require_editor,
)
from walletdesk.console.routes.help_common import problem as form_problem
from walletdesk.console.routes.help_deflection import percent
from walletdesk.console.routes.ticket import load_ticket_for
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import (
    ConsoleAgent,
    CurrentAgent,
    PostedForm,
    RuntimeDep,
    Session,
    form_text,
)
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.helpcenter import queries, service
from walletdesk.helpcenter.models import LOCALES, Article, ArticleStatus, Category
from walletdesk.helpcenter.rendering import render_markdown
from walletdesk.helpcenter.schemas import ArticleIn
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console", route_class=ConsoleRoute)
router.include_router(help_revisions.router)

_FIELDS = ("title", "slug", "locale", "category", "keywords", "questions", "body", "status")
# Editors type Chinese commas as often as ASCII ones.
_KEYWORD_SEPARATORS = re.compile(r"[,，、\n]")
MAX_CANDIDATES = 20
MAX_QUESTION_CHARS = 500
# The list's orders: the editors' own, or by readers' answers (ties keep the editors' order).
FEEDBACK_SORT = {
    "": N_("Editors' order"),
    "not_helpful": N_("Most “not helpful” first"),
    "ratio": N_("Lowest helpful ratio first"),
    "helpful": N_("Most “helpful” first"),
}


def _article_in(values: dict[str, str]) -> ArticleIn:
    return ArticleIn(
        title=values["title"],
        slug=values["slug"],
        locale=values["locale"],
        category=values["category"],
        keywords=_KEYWORD_SEPARATORS.split(values["keywords"]),
        questions=values["questions"].splitlines(),
        body=values["body"],
        status=values["status"],
    )


def _posted_values(form: FormData) -> dict[str, str]:
    values = {name: form_text(form, name) for name in (*_FIELDS, "translation_of")}
    for name in ("title", "slug", "locale", "category", "status", "translation_of"):
        values[name] = values[name].strip()
    return values


async def _save(
    me: ConsoleAgent, runtime: Runtime, values: dict[str, str], *, new: bool
) -> service.Saved | None:
    """Save the form; the "translation of" field becomes the article's translation group.
    None: `new` and the article exists already (nothing saved)."""
    data = _article_in(values)
    async with runtime.db.transaction() as db_session:
        if new:
            try:
                await queries.get_article(db_session, data.locale, data.slug, published_only=False)
                return None
            except NotFound:
                pass
        group = await service.translation_group_for(
            db_session, data.locale, data.slug, values["translation_of"][:120]
        )
        if group is not None:
            data = data.model_copy(update={"translation_group": group})
        return await service.save_article(db_session, me.actor, data)


async def _editor_page(
    request: Request,
    runtime: Runtime,
    *,
    values: dict[str, str],
    existing: Article | None = None,
    preview_html: str | None = None,
    status_code: int = 200,
) -> Response:
    async with runtime.db.transaction() as session:
        rows = await queries.list_articles(session)
        revisions = await queries.revisions(session, existing.id) if existing else []
        feedback = await queries.feedback_summary(session, existing) if existing else None
    category_names = sorted({c.name for a, c in rows if a.locale == values["locale"]})
    # A new article's language may still change in the form: offer every article then.
    translation_choices = [a for a, _ in rows if not existing or a.locale != existing.locale]
    return render(
        request,
        "help_article_edit.html",
        status_code=status_code,
        page_url=(
            f"/console/help/articles/{existing.locale}/{existing.slug}"
            if existing
            else "/console/help/articles/new"
        ),
        values=values,
        existing=existing,
        preview_html=preview_html,
        revisions=revisions,
        feedback=feedback,
        recent_comments=queries.RECENT_COMMENTS,
        helpful_share=_helpful_share(request_lang(request)),
        category_names=category_names,
        translation_choices=translation_choices,
        locales=LOCALES,
        article_status=ARTICLE_STATUS,
        article_field=ARTICLE_FIELD,
        nav="help",
    )


def _filtered(
    rows: list[tuple[Article, Category]], category: str, text: str
) -> list[tuple[Article, Category]]:
    wanted = text.casefold().strip()
    return [
        (a, c)
        for a, c in rows
        if (not category or c.name == category)
        and (not wanted or wanted in a.title.casefold() or wanted in a.slug)
    ]


def _helpful_share(lang: Lang) -> Callable[[int, int], str]:
    """Formats helpful / all answers in the page's language ("—" before the first answer)."""

    def share(helpful: int, not_helpful: int) -> str:
        ratio = queries.helpful_ratio(helpful, not_helpful)
        return "—" if ratio is None else percent(lang, ratio)

    return share


def _sorted(rows: list[tuple[Article, Category]], sort: str) -> list[tuple[Article, Category]]:
    def ratio(article: Article) -> float:
        found = queries.helpful_ratio(article.helpful_count, article.unhelpful_count)
        return 2.0 if found is None else found  # unanswered articles last

    if sort == "not_helpful":
        return sorted(rows, key=lambda r: (-r[0].unhelpful_count, ratio(r[0])))
    if sort == "ratio":
        # Among equal ratios, the article more readers answered is the surer failure.
        return sorted(
            rows,
            key=lambda r: (ratio(r[0]), -(r[0].helpful_count + r[0].unhelpful_count)),
        )
    if sort == "helpful":
        return sorted(rows, key=lambda r: -r[0].helpful_count)
    return rows


@router.get("/help/articles")
async def list_articles(
    request: Request,
    me: CurrentAgent,
    runtime: RuntimeDep,
    locale: str = "",
    category: str = "",
    status: str = "",
    q: str = "",
    sort: str = "",
) -> Response:
    lang = require_editor(request, me)
    if (
        (locale and locale not in LOCALES)
        or (status and status not in ARTICLE_STATUS)
        or sort not in FEEDBACK_SORT
    ):
        raise PageError(400, lang.gettext("The address or form is not valid."))
    async with runtime.db.transaction() as session:
        rows = list(
            await queries.list_articles(session, locale=locale or None, status=status or None)
        )
    return render(
        request,
        "help_articles.html",
        articles=_sorted(_filtered(rows, category, q[:200]), sort),
        category_names=sorted({c.name for _, c in rows}),
        filters={
            "locale": locale,
            "category": category,
            "status": status,
            "q": q[:200],
            "sort": sort,
        },
        locales=LOCALES,
        article_status=ARTICLE_STATUS,
        feedback_sort=FEEDBACK_SORT,
        helpful_share=_helpful_share(lang),
        nav="help",
    )


@router.get("/help/articles/new")
async def new_article(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    lang = require_editor(request, me)
    values = dict.fromkeys((*_FIELDS, "translation_of"), "") | {
        "locale": lang.code,
        "status": ArticleStatus.DRAFT,
    }
    return await _editor_page(request, runtime, values=values)


@router.post("/help/articles/new")
async def create_article(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    lang = require_editor(request, me)
    values = _posted_values(form)
    if form_text(form, "action") == "preview":
        preview = render_markdown(values["body"])
        return await _editor_page(request, runtime, values=values, preview_html=preview)
    revision: int | None = None
    try:
        data = _article_in(values)
        saved = await _save(me, runtime, values, new=True)
        revision = saved.article.revision if saved else None
        problem = lang.gettext(
            "An article with the slug %(slug)s already exists in %(language)s.",
            slug=data.slug,
            language=lang.label(labels.LANGUAGE, data.locale),
        )
    except (ValidationError, InvalidInput) as exc:
        problem = form_problem(exc, lang, values["locale"])
    if revision is None:
        session.flash(problem, "error")
        return await _editor_page(request, runtime, values=values, status_code=422)
    session.flash(lang.gettext("Article saved (revision %(revision)s).", revision=revision))
    return RedirectResponse(f"/console/help/articles/{data.locale}/{data.slug}", status_code=303)


@router.get("/help/articles/{locale}/{slug}")
async def edit_article(
    request: Request, locale: str, slug: str, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    lang = require_editor(request, me)
    article, category, questions = await load_article(runtime, locale, slug, lang)
    async with runtime.db.transaction() as session:
        versions = await queries.linked_versions(session, article)
    translation_of = versions[0].slug if versions else ""
    values = {
        "title": article.title,
        "slug": article.slug,
        "locale": article.locale,
        "category": category.name,
        "keywords": ", ".join(article.keywords),
        "questions": "\n".join(questions),
        "body": article.body_md,
        "status": article.status,
        "translation_of": translation_of,
    }
    return await _editor_page(request, runtime, values=values, existing=article)


@router.post("/help/articles/{locale}/{slug}")
async def update_article(
    request: Request,
    locale: str,
    slug: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = require_editor(request, me)
    article, _, _ = await load_article(runtime, locale, slug, lang)
    # The service keys articles by (locale, slug): an edit never moves an article.
    values = _posted_values(form) | {"locale": locale, "slug": slug}
    if form_text(form, "action") == "preview":
        preview = render_markdown(values["body"])
        return await _editor_page(
            request, runtime, values=values, existing=article, preview_html=preview
        )
    try:
        saved = await _save(me, runtime, values, new=False)
        assert saved is not None
        outcome, revision = saved.outcome, saved.article.revision
    except (ValidationError, InvalidInput) as exc:
        session.flash(form_problem(exc, lang, locale), "error")
        return await _editor_page(
            request, runtime, values=values, existing=article, status_code=422
        )
    if outcome == "unchanged":
        session.flash(lang.gettext("Nothing changed."))
    else:
        session.flash(lang.gettext("Article saved (revision %(revision)s).", revision=revision))
    return RedirectResponse(f"/console/help/articles/{locale}/{slug}", status_code=303)


# --- a customer's question from a ticket -----------------------------------------------


def _candidates(rows: list[tuple[Article, Category]], wanted: str) -> tuple[list[Article], bool]:
    """Articles the agent may mean, and whether the choice was exact ("zh-CN/slug", a slug
    or a whole title) rather than a part of a title or slug."""
    text = wanted.strip()
    if not text:
        return [], False
    locale, _, slug = text.partition("/")
    exact = [a for a, _ in rows if (a.locale, a.slug) == (locale, slug)]
    if not exact:
        folded = text.casefold()
        exact = [a for a, _ in rows if a.slug == text or a.title.casefold() == folded]
    if exact:
        return exact, True
    folded = text.casefold()
    partial = [a for a, _ in rows if folded in a.title.casefold() or folded in a.slug]
    return partial[:MAX_CANDIDATES], False


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An article offered on the add-a-question page."""

    locale: str
    slug: str
    title: str
    status: str


@router.post("/tickets/{number}/help-question")
async def add_ticket_question(
    request: Request,
    number: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = request_lang(request)
    wanted = form_text(form, "article").strip()[:300]
    question = form_text(form, "question")
    problem = None
    added: bool | None = None
    try:
        async with runtime.db.transaction() as db_session:
            ticket = await load_ticket_for(db_session, me, number, lang)
            ticket_number = ticket.number
            found, exact = _candidates(list(await queries.list_articles(db_session)), wanted)
            # Plain copies: a refusal below rolls back and expires the rows the page shows.
            matches = [_Candidate(a.locale, a.slug, a.title, a.status) for a in found]
            if not question.strip():
                problem = lang.gettext("Write the customer's question first.")
            elif len(question) > MAX_QUESTION_CHARS:
                problem = lang.gettext(
                    "The question is longer than %(limit)s characters.", limit=MAX_QUESTION_CHARS
                )
            elif len(matches) == 1 and exact:
                chosen = matches[0]
                title = chosen.title
                added = await service.add_similar_question(
                    db_session, me.actor, chosen.locale, chosen.slug, question, ticket_number
                )
            elif not wanted:
                problem = lang.gettext("Type the title or slug of a help article.")
            elif not matches:
                problem = lang.gettext("No help article matches “%(text)s”.", text=wanted)
    except (InvalidInput, NotFound) as exc:
        problem = form_problem(exc, lang) if isinstance(exc, InvalidInput) else str(exc)
    if added is not None:
        if added:
            session.flash(lang.gettext("Question added to “%(title)s”.", title=title))
        else:
            session.flash(lang.gettext("“%(title)s” already has this question.", title=title))
        return RedirectResponse(f"/console/tickets/{ticket_number}", status_code=303)
    if problem:
        session.flash(problem, "error")
    return render(
        request,
        "help_question.html",
        status_code=422 if problem else 200,
        page_url=f"/console/tickets/{ticket_number}",
        ticket_number=ticket_number,
        wanted=wanted,
        question=question,
        candidates=matches,
        article_status=ARTICLE_STATUS,
    )
