"""Rendering console pages: one Jinja environment per language, autoescaped.

User text (subjects, messages, names) only ever reaches templates as data and is escaped
there; nothing a user typed is compiled as a template.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from walletdesk.console import labels
from walletdesk.console.i18n import Lang, from_accept_language, lang_for, normalise, translations
from walletdesk.console.session import CSRF_FIELD, ConsoleAgent, console_session

STATIC_VERSION = "2"


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("walletdesk.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        lang=Lang(locale),
        labels=labels,
        csrf_field=CSRF_FIELD,
        static_version=STATIC_VERSION,
    )
    return env


def request_lang(request: Request) -> Lang:
    """The signed-in agent's language; before sign-in ?lang=, then Accept-Language."""
    agent = getattr(request.state, "console_agent", None)
    if isinstance(agent, ConsoleAgent):
        return lang_for(agent.locale)
    chosen = (
        normalise(request.query_params.get("lang"))
        or from_accept_language(request.headers.get("accept-language"))
        or normalise(request.app.state.runtime.settings.default_locale)
    )
    return lang_for(chosen)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    lang: Lang | None = None,
    page_url: str | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = lang or request_lang(request)
    session = console_session(request)
    me = getattr(request.state, "console_agent", None)
    if page_url is None:
        # A page rendered in answer to a form has no address of its own to come back to.
        page_url = (
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method == "GET"
            else "/console/"
        )
    page = environment(lang.code).get_template(template)
    html = page.render(
        me=me if isinstance(me, ConsoleAgent) else None,
        csrf_token=session.csrf,
        flashes=session.pop_flashes(),
        current_url=page_url,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
