"""Revision history of a help article in the console: an old revision's content, its diff
against the current text, and restoring it (as a new revision, through the service)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from walletdesk.console.render import render
from walletdesk.console.routes.help_common import (
    ARTICLE_FIELD,
    ARTICLE_STATUS,
    load_article,
    problem,
    require_editor,
)
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import CurrentAgent, PostedForm, RuntimeDep, Session
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.helpcenter import queries, service
from walletdesk.helpcenter.rendering import render_markdown

router = APIRouter(route_class=ConsoleRoute)


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "add", "del", "same" or "hunk"
    text: str


def _field_lines(field: str, value: str | list[str]) -> list[str]:
    if isinstance(value, list):
        return list(value) if field == "questions" else [", ".join(value)]
    return value.splitlines()


def _diff(
    old: dict[str, str | list[str]], new: dict[str, str | list[str]]
) -> list[tuple[str, list[DiffLine]]]:
    """Per changed field, a unified diff from `old` to `new` as plain text lines; the
    template escapes them like any other text."""
    changed: list[tuple[str, list[DiffLine]]] = []
    for field in ("title", "category", "keywords", "questions", "body", "status"):
        before, after = _field_lines(field, old[field]), _field_lines(field, new[field])
        if before == after:
            continue
        lines: list[DiffLine] = []
        for line in difflib.unified_diff(before, after, lineterm="", n=3):
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("@@"):
                lines.append(DiffLine("hunk", line))
            else:
                kind = {"+": "add", "-": "del"}.get(line[:1], "same")
                lines.append(DiffLine(kind, line[1:]))
        changed.append((field, lines))
    return changed


@router.get("/help/articles/{locale}/{slug}/revisions/{number}")
async def view_revision(
    request: Request, locale: str, slug: str, number: int, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    lang = require_editor(request, me)
    article, category, questions = await load_article(runtime, locale, slug, lang)
    async with runtime.db.transaction() as session:
        try:
            old = await queries.revision(session, article.id, number)
        except NotFound:
            raise PageError(404, lang.gettext("There is no such revision.")) from None
    current: dict[str, str | list[str]] = {
        "title": article.title,
        "category": category.name,
        "keywords": list(article.keywords),
        "questions": questions,
        "body": article.body_md,
        "status": lang.label(ARTICLE_STATUS, article.status),
    }
    then: dict[str, str | list[str]] = {
        "title": old.title,
        "category": old.category,
        "keywords": old.keywords,
        "questions": old.questions,
        "body": old.body,
        "status": lang.label(ARTICLE_STATUS, old.status),
    }
    return render(
        request,
        "help_revision.html",
        page_url=f"/console/help/articles/{locale}/{slug}",
        article=article,
        old=old,
        old_html=render_markdown(old.body),
        changes=_diff(then, current),
        article_status=ARTICLE_STATUS,
        article_field=ARTICLE_FIELD,
        nav="help",
    )


@router.post("/help/articles/{locale}/{slug}/revisions/{number}/restore")
async def restore_revision(
    request: Request,
    locale: str,
    slug: str,
    number: int,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = require_editor(request, me)
    await load_article(runtime, locale, slug, lang)
    try:
        async with runtime.db.transaction() as db_session:
            saved = await service.restore_revision(db_session, me.actor, locale, slug, number)
    except NotFound:
        raise PageError(404, lang.gettext("There is no such revision.")) from None
    except (ValidationError, InvalidInput) as exc:
        # An old snapshot that today's rules refuse (e.g. a longer limit then).
        session.flash(problem(exc, lang, locale), "error")
        return RedirectResponse(
            f"/console/help/articles/{locale}/{slug}/revisions/{number}", status_code=303
        )
    if saved.outcome == "unchanged":
        session.flash(lang.gettext("Nothing changed."))
    else:
        session.flash(
            lang.gettext(
                "Revision %(old)s restored as revision %(revision)s.",
                old=number,
                revision=saved.article.revision,
            )
        )
    return RedirectResponse(f"/console/help/articles/{locale}/{slug}", status_code=303)
