"""What the help-article pages of the console share: labels, who may edit, reading an
article, and saying what is wrong with a form in the editor's language."""

from __future__ import annotations

from fastapi import Request
from pydantic import ValidationError

from walletdesk.console import labels
from walletdesk.console.i18n import N_, Lang
from walletdesk.console.render import request_lang
from walletdesk.console.routing import PageError
from walletdesk.console.session import ConsoleAgent
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.helpcenter import queries, service
from walletdesk.helpcenter.models import LOCALES, Article, Category
from walletdesk.runtime import Runtime

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
    "translation_of": N_("Translation of"),
}
# Pydantic explains in English only; an editor reads what each field accepts instead.
FIELD_HINT = {
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
    "status": N_("Choose draft, published or archived."),
}
TRANSLATION_PROBLEM = {
    "missing": N_("There is no article with the slug %(slug)s in %(language)s."),
    "same_locale": N_(
        "%(slug)s is an article in the same language; choose its version in %(language)s."
    ),
    "taken": N_(
        "%(slug)s is already linked to %(other)s; unlink it there first, or choose another."
    ),
}


def require_editor(request: Request, me: ConsoleAgent) -> Lang:
    lang = request_lang(request)
    if not me.sees_all_queues:
        message = lang.gettext("Only supervisors and administrators may manage help articles.")
        raise PageError(403, message)
    return lang


def other_locale(locale: str) -> str:
    return next((loc for loc in LOCALES if loc != locale), locale)


def problem(exc: ValidationError | InvalidInput, lang: Lang, locale: str = "") -> str:
    """What is wrong with the form, in the editor's language (`locale`: the article's)."""
    if isinstance(exc, service.TranslationLinkError):
        message = lang.gettext(
            TRANSLATION_PROBLEM[exc.reason],
            slug=exc.target,
            other=exc.other,
            language=lang.label(labels.LANGUAGE, other_locale(locale)),
        )
        return f"{lang.label(ARTICLE_FIELD, exc.field)}: {message}"
    if isinstance(exc, InvalidInput):
        return f"{lang.label(ARTICLE_FIELD, exc.field)}: {exc.message}"
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in FIELD_HINT and field not in (p[0] for p in problems):
            problems.append((field, lang.gettext(FIELD_HINT[field])))
    if not problems:
        return lang.gettext("The address or form is not valid.")
    return " ".join(f"{lang.label(ARTICLE_FIELD, f)}: {hint}" for f, hint in problems)


async def load_article(
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
