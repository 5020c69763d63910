"""Help articles in the console: supervisors and admins list, write, preview and publish them;
any agent adds a customer's real question from a ticket to an article.

The help center's service does every change (and its audit); these routes parse the form,
check who may open the page, and render. Articles are addressed by (locale, slug), the help
center's own key.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from walletdesk.console import labels
from walletdesk.console.i18n import N_, Lang
from walletdesk.console.render import render, request_lang
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

ARTICLE_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "archived": N_("Archived"),
}
ARTICLE_FIELD = {
    "title": N_("Title"),
    "slug": N_("Slug"),
    "locale": N_("Language"),
    "category": N_("Category"),
    "keywords": N_("Keywords"),
    "questions": N_("Similar questions"),
    "body": N_("Body (Markdown)"),
    "status": N_("Status"),
    "text": N_("Customer's question"),
}
# Pydantic explains in English only; an editor reads what each field accepts instead.
_FIELD_HINT = {
    "title": N_("Enter a title of at most 300 characters."),
    "slug": N_(
        "Use lowercase letters, digits and single hyphens, at most 120 characters "
        "(e.g. reset-payment-password)."
    ),
    "locale": N_("Choose Chinese or English."),
    "category": N_("Enter a category of at most 120 characters."),
    "keywords": N_("Use at most 50 keywords of at most 60 characters each."),
    "questions": N_("Use at most 300 questions of at most 500 characters each."),
    "body": N_("Write the article in Markdown, at most 100,000 characters."),
    "status": N_("Choose draft or published."),
}
_FIELDS = ("title", "slug", "locale", "category", "keywords", "questions", "body", "status")
# Editors type Chinese commas as often as ASCII ones.
_KEYWORD_SEPARATORS = re.compile(r"[,，、\n]")
MAX_CANDIDATES = 20
MAX_QUESTION_CHARS = 500


def _require_editor(request: Request, me: ConsoleAgent) -> Lang:
    lang = request_lang(request)
    if not me.sees_all_queues:
        message = lang.gettext("Only supervisors and administrators may manage help articles.")
        raise PageError(403, message)
    return lang


def _problem(exc: ValidationError | InvalidInput, lang: Lang) -> str:
    """What is wrong with the form, in the editor's language."""
    if isinstance(exc, InvalidInput):
        return f"{lang.label(ARTICLE_FIELD, exc.field)}: {exc.message}"
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in _FIELD_HINT and field not in (p[0] for p in problems):
            problems.append((field, lang.gettext(_FIELD_HINT[field])))
    if not problems:
        return lang.gettext("The address or form is not valid.")
    return " ".join(f"{lang.label(ARTICLE_FIELD, f)}: {hint}" for f, hint in problems)


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
    values = {name: form_text(form, name) for name in _FIELDS}
    for name in ("title", "slug", "locale", "category", "status"):
        values[name] = values[name].strip()
    return values


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
    category_names = sorted({c.name for a, c in rows if a.locale == values["locale"]})
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
        category_names=category_names,
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


@router.get("/help/articles")
async def list_articles(
    request: Request,
    me: CurrentAgent,
    runtime: RuntimeDep,
    locale: str = "",
    category: str = "",
    status: str = "",
    q: str = "",
) -> Response:
    lang = _require_editor(request, me)
    if (locale and locale not in LOCALES) or (status and status not in ARTICLE_STATUS):
        raise PageError(400, lang.gettext("The address or form is not valid."))
    async with runtime.db.transaction() as session:
        rows = list(
            await queries.list_articles(session, locale=locale or None, status=status or None)
        )
    return render(
        request,
        "help_articles.html",
        articles=_filtered(rows, category, q[:200]),
        category_names=sorted({c.name for _, c in rows}),
        filters={"locale": locale, "category": category, "status": status, "q": q[:200]},
        locales=LOCALES,
        article_status=ARTICLE_STATUS,
        nav="help",
    )


@router.get("/help/articles/new")
async def new_article(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    lang = _require_editor(request, me)
    values = dict.fromkeys(_FIELDS, "") | {"locale": lang.code, "status": ArticleStatus.DRAFT}
    return await _editor_page(request, runtime, values=values)


@router.post("/help/articles/new")
async def create_article(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    lang = _require_editor(request, me)
    values = _posted_values(form)
    if form_text(form, "action") == "preview":
        preview = render_markdown(values["body"])
        return await _editor_page(request, runtime, values=values, preview_html=preview)
    revision: int | None = None
    try:
        data = _article_in(values)
        async with runtime.db.transaction() as db_session:
            try:
                await queries.get_article(db_session, data.locale, data.slug, published_only=False)
            except NotFound:
                revision = (await service.save_article(db_session, me.actor, data)).article.revision
        problem = lang.gettext(
            "An article with the slug %(slug)s already exists in %(language)s.",
            slug=data.slug,
            language=lang.label(labels.LANGUAGE, data.locale),
        )
    except (ValidationError, InvalidInput) as exc:
        problem = _problem(exc, lang)
    if revision is None:
        session.flash(problem, "error")
        return await _editor_page(request, runtime, values=values, status_code=422)
    session.flash(lang.gettext("Article saved (revision %(revision)s).", revision=revision))
    return RedirectResponse(f"/console/help/articles/{data.locale}/{data.slug}", status_code=303)


async def _load(
    runtime: Runtime, locale: str, slug: str, lang: Lang
) -> tuple[Article, Category, list[str]]:
    """The article with its category and similar questions; a 404 page if there is none."""
    missing = PageError(404, lang.gettext("There is no such help article."))
    if locale not in LOCALES:
        raise missing
    async with runtime.db.transaction() as session:
        try:
            article, category = await queries.get_article(
                session, locale, slug, published_only=False
            )
        except NotFound:
            raise missing from None
        questions = (await queries.questions_of(session, [article.id])).get(article.id, [])
    return article, category, questions


@router.get("/help/articles/{locale}/{slug}")
async def edit_article(
    request: Request, locale: str, slug: str, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    lang = _require_editor(request, me)
    article, category, questions = await _load(runtime, locale, slug, lang)
    values = {
        "title": article.title,
        "slug": article.slug,
        "locale": article.locale,
        "category": category.name,
        "keywords": ", ".join(article.keywords),
        "questions": "\n".join(questions),
        "body": article.body_md,
        "status": article.status,
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
    lang = _require_editor(request, me)
    article, _, _ = await _load(runtime, locale, slug, lang)
    # The service keys articles by (locale, slug): an edit never moves an article.
    values = _posted_values(form) | {"locale": locale, "slug": slug}
    if form_text(form, "action") == "preview":
        preview = render_markdown(values["body"])
        return await _editor_page(
            request, runtime, values=values, existing=article, preview_html=preview
        )
    try:
        data = _article_in(values)
        async with runtime.db.transaction() as db_session:
            saved = await service.save_article(db_session, me.actor, data)
            outcome, revision = saved.outcome, saved.article.revision
    except (ValidationError, InvalidInput) as exc:
        session.flash(_problem(exc, lang), "error")
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
            matches, exact = _candidates(list(await queries.list_articles(db_session)), wanted)
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
        problem = _problem(exc, lang) if isinstance(exc, InvalidInput) else str(exc)
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
