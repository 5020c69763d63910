"""The public help center: server-rendered pages under /help/, in zh-CN and en.

Every page is plain HTML that works without JavaScript, escapes all text (Jinja autoescape),
and shows article bodies only as the sanitised HTML stored when they were saved.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from walletdesk.core.errors import DomainError, NotFound
from walletdesk.helpcenter import queries, reader_signals
from walletdesk.helpcenter.contact import chat_hours, check_contact_emails
from walletdesk.helpcenter.i18n import LANGUAGE_NAMES, STRINGS, preferred_locale
from walletdesk.helpcenter.models import LOCALES
from walletdesk.helpcenter.official_channels import load_official_channels, site_brand
from walletdesk.helpcenter.ratelimit import retry_after_for
from walletdesk.helpcenter.rendering import excerpt
from walletdesk.helpcenter.schemas import (
    SUGGESTION_ID_PATTERN,
    FeedbackIn,
    is_category_slug,
    is_slug,
)
from walletdesk.helpcenter.search.engine import MAX_QUERY_CHARS
from walletdesk.helpcenter.search.holder import search_service
from walletdesk.http.deps import RuntimeDep
from walletdesk.runtime import Runtime

HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)


@asynccontextmanager
async def _check_contact_page(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, say in the log if the contact page lists an email address the email
    channel would refuse (the contact page's first load checks again, for apps run without
    a lifespan)."""
    runtime = getattr(app.state, "runtime", None)
    if runtime is not None:
        check_contact_emails(runtime)
    yield


router = APIRouter(prefix="/help", include_in_schema=False, lifespan=_check_contact_page)

CSRF_COOKIE = "hc_csrf"
STATIC = {
    "help.css": "text/css; charset=utf-8",
}
_static_cache: dict[str, bytes] = {}
_SUGGESTION_ID = re.compile(SUGGESTION_ID_PATTERN)


def _suggestion_id(value: str | None) -> str | None:
    """The ?s= a suggested article's link carries (from the chat widget or the email
    acknowledgement), if well-formed."""
    return value if value and _SUGGESTION_ID.fullmatch(value) else None


def _other(locale: str) -> str:
    return next(loc for loc in LOCALES if loc != locale)


def _page(
    request: Request,
    template: str,
    locale: str,
    *,
    status_code: int = 200,
    switch_to: str | None = None,
    **context: Any,
) -> HTMLResponse:
    other = _other(locale)
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    brand = site_brand(locale)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "locale": locale,
            "t": STRINGS[locale],
            "other_locale": other,
            "other_language": LANGUAGE_NAMES[other],
            "switch_url": switch_to or f"/help/{other}/",
            "csrf_token": token,
            "brand": brand,
            "site_name": f"{brand} {STRINGS[locale]['site']}" if brand else STRINGS[locale]["site"],
            **context,
        },
        status_code=status_code,
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            path="/help/",
            secure=request.url.scheme == "https",
        )
    return response


def _not_found(request: Request, locale: str) -> HTMLResponse:
    return _page(request, "helpcenter/not_found.html", locale, status_code=404)


def _wrong_locale(request: Request, locale: str) -> HTMLResponse | None:
    """The not-found page (in the nearest language) for a locale we do not publish in."""
    if locale in LOCALES:
        return None
    return _not_found(request, "en" if locale.lower().startswith("en") else "zh-CN")


@router.get("", response_class=RedirectResponse)
@router.get("/", response_class=RedirectResponse)
async def help_root(request: Request) -> RedirectResponse:
    locale = preferred_locale(request.headers.get("accept-language", ""))
    return RedirectResponse(f"/help/{locale}/", status_code=307)


def _site_url(runtime: Runtime) -> str:
    return runtime.settings.base_url.rstrip("/")


@router.get("/sitemap.xml")
async def sitemap(runtime: RuntimeDep) -> Response:
    """Every published article in both locales, with its last change and its translations
    (hreflang alternates, as search engines read them from a sitemap)."""
    base = _site_url(runtime)
    async with runtime.db.transaction() as session:
        entries = await queries.sitemap_entries(session)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n'
    ]
    for found, versions in entries:
        url = f"{base}/help/{found.locale}/articles/{found.slug}"
        parts.append(f"<url><loc>{xml_escape(url)}</loc>")
        parts.append(
            f"<lastmod>{found.updated_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</lastmod>"
        )
        if len(versions) > 1:
            for loc in LOCALES:
                if loc in versions:
                    href = xml_escape(f"{base}/help/{loc}/articles/{versions[loc]}")
                    parts.append(f'<xhtml:link rel="alternate" hreflang="{loc}" href="{href}"/>')
        parts.append("</url>\n")
    parts.append("</urlset>\n")
    return Response(
        "".join(parts),
        media_type="application/xml",
        headers={"Cache-Control": "public, max-age=600"},
    )


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    if name not in _static_cache:
        _static_cache[name] = (HERE / "static" / name).read_bytes()
    return Response(
        _static_cache[name],
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/{locale}/", response_class=HTMLResponse)
async def home(request: Request, locale: str, runtime: RuntimeDep) -> HTMLResponse:
    if wrong := _wrong_locale(request, locale):
        return wrong
    async with runtime.db.transaction() as session:
        categories = await queries.categories(session, locale)
        popular = await queries.popular_articles(session, locale)
    return _page(request, "helpcenter/home.html", locale, categories=categories, popular=popular)


@router.get("/{locale}/categories/{slug}", response_class=HTMLResponse)
async def category(request: Request, locale: str, slug: str, runtime: RuntimeDep) -> HTMLResponse:
    if wrong := _wrong_locale(request, locale):
        return wrong
    if not is_category_slug(slug):
        return _not_found(request, locale)
    async with runtime.db.transaction() as session:
        try:
            found = await queries.get_category(session, locale, slug)
        except NotFound:
            return _not_found(request, locale)
        articles = await queries.list_articles(
            session, locale=locale, status="published", category_id=found.id
        )
    return _page(
        request,
        "helpcenter/category.html",
        locale,
        category=found,
        articles=[a for a, _ in articles],
    )


@router.get("/{locale}/articles/{slug}", response_class=HTMLResponse)
async def article(request: Request, locale: str, slug: str, runtime: RuntimeDep) -> HTMLResponse:
    if wrong := _wrong_locale(request, locale):
        return wrong
    if not is_slug(slug):
        return _not_found(request, locale)
    suggestion_id = _suggestion_id(request.query_params.get("s"))
    async with runtime.db.transaction() as session:
        try:
            found, found_category = await queries.get_article(session, locale, slug)
        except NotFound:
            return _not_found(request, locale)
        versions = await queries.translations(session, found)
        related = await queries.list_articles(
            session, locale=locale, status="published", category_id=found.category_id, limit=8
        )
        if suggestion_id:
            # Reached from a suggestion's link: the customer opened this article.
            await reader_signals.record_opened_on_article(session, suggestion_id, found)
    other = _other(locale)
    switch = f"/help/{other}/articles/{versions[other]}" if other in versions else None
    base = _site_url(runtime)
    return _page(
        request,
        "helpcenter/article.html",
        locale,
        switch_to=switch,
        # Absolute, from the configured address (not the Host header), and without ?s= or
        # ?feedback=: one URL per article for search engines.
        canonical_url=f"{base}/help/{locale}/articles/{slug}",
        alternates=[
            (loc, f"{base}/help/{loc}/articles/{versions[loc]}")
            for loc in LOCALES
            if loc in versions
        ],
        # Each article its own description for search engines: the start of its text.
        description=excerpt(found.body_html) or found.title,
        article=found,
        category=found_category,
        related=[a for a, _ in related if a.id != found.id][:6],
        feedback=request.query_params.get("feedback"),
        suggestion_id=suggestion_id,
    )


@router.post("/{locale}/articles/{slug}/feedback", response_model=None)
async def article_feedback(
    request: Request,
    locale: str,
    slug: str,
    runtime: RuntimeDep,
    helpful: Annotated[str, Form(max_length=3)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
    s: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if wrong := _wrong_locale(request, locale):
        return wrong
    if not is_slug(slug):
        return _not_found(request, locale)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _page(
            request, "helpcenter/message.html", locale, status_code=403,
            message=STRINGS[locale]["csrf_failed"],
        )  # fmt: skip
    if retry_after_for(request):
        return _page(
            request, "helpcenter/message.html", locale, status_code=429,
            message=STRINGS[locale]["rate_limited"],
        )  # fmt: skip
    try:
        data = FeedbackIn(slug=slug, locale=locale, helpful=helpful == "yes", comment=comment)
    except ValidationError:
        # The slug and locale are checked above: the comment holds what cannot be stored.
        return _page(
            request, "helpcenter/message.html", locale, status_code=422,
            message=STRINGS[locale]["comment_unstorable"],
        )  # fmt: skip
    suggestion_id = _suggestion_id(s)
    try:
        async with runtime.db.transaction() as session:
            found = await reader_signals.record_feedback(session, data)
            if data.helpful and suggestion_id:
                # Arrived from a suggestion: "this solved it" deflected the question too.
                await reader_signals.record_solved_on_article(session, suggestion_id, found)
    except DomainError:
        return _not_found(request, locale)
    return RedirectResponse(
        f"/help/{locale}/articles/{slug}?feedback=thanks#feedback", status_code=303
    )


@router.get("/{locale}/search", response_class=HTMLResponse)
async def search_page(
    request: Request, locale: str, runtime: RuntimeDep, q: str = ""
) -> HTMLResponse:
    if wrong := _wrong_locale(request, locale):
        return wrong
    strings = STRINGS[locale]
    message, hits, status_code = "", [], 200
    if not q.strip():
        message = strings["query_empty"]
    elif len(q) > MAX_QUERY_CHARS:
        message, status_code = strings["query_too_long"].format(limit=MAX_QUERY_CHARS), 422
    elif retry_after_for(request):
        message, status_code = strings["rate_limited"], 429
    else:
        hits = await search_service(runtime.db).search(q, locale, 20)
        if not hits:
            message = strings["no_results"]
    return _page(
        request,
        "helpcenter/search.html",
        locale,
        status_code=status_code,
        switch_to=f"/help/{_other(locale)}/search?q={quote(q[:MAX_QUERY_CHARS])}",
        query=q[:MAX_QUERY_CHARS],
        hits=hits,
        message=message,
    )


@router.get("/{locale}/contact", response_class=HTMLResponse)
async def contact(request: Request, locale: str, runtime: RuntimeDep) -> HTMLResponse:
    if wrong := _wrong_locale(request, locale):
        return wrong
    check_contact_emails(runtime)
    channels = load_official_channels()
    async with runtime.db.transaction() as session:
        site_hours = await chat_hours(session, channels.channels, locale)
    groups = [
        (kind, [(c, site_hours.get(c.value) or c.hours_text(locale)) for c in found])
        for kind in ("chat", "phone", "email", "social", "web")
        if (found := channels.of_kind(kind))
    ]
    return _page(
        request,
        "helpcenter/contact.html",
        locale,
        switch_to=f"/help/{_other(locale)}/contact",
        groups=groups,
    )
