"""Live-chat sites in the console: administrators list and add the websites that embed the
chat widget, change their settings, turn them off and on, copy the snippet for their pages,
and reveal or rotate the identity secret.

Every change goes through channels/webchat/sites.py, which records the audit entry and, after
the commit, tells every node's chat hub to drop its cached copy of the site (the same event
the CLI sends). A secret is only ever in the one response that shows it: never in a flash (the
session cookie is signed, not encrypted), never in an address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from walletdesk.channels.webchat import sites
from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.console.i18n import Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.routes import chat_site_form as site_form
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
from walletdesk.runtime import Runtime

PATH = "/console/admin/chat-sites"
router = APIRouter(prefix=PATH, route_class=ConsoleRoute)

# Keys are "ws_" and 16 URL-safe characters; anything much longer is no key of ours.
MAX_KEY_CHARS = 40


def _require_admin(request: Request, me: ConsoleAgent) -> Lang:
    lang = request_lang(request)
    if not me.is_admin:
        raise PageError(403, lang.gettext("Only administrators may manage chat sites."))
    return lang


async def _load_site(runtime: Runtime, key: str, lang: Lang) -> WebchatSite:
    missing = PageError(404, lang.gettext("There is no chat site with this key."))
    if len(key) > MAX_KEY_CHARS:
        raise missing
    async with runtime.db.transaction() as session:
        try:
            return await sites.get_site(session, key)
        except NotFound:
            raise missing from None


def _common(lang: Lang) -> dict[str, Any]:
    return {
        "site_field": site_form.SITE_FIELD,
        "weekdays": site_form.weekdays(lang),
        "zones": site_form.COMMON_ZONES,
        "nav": "chat_sites",
    }


def _site_page(
    request: Request,
    runtime: Runtime,
    lang: Lang,
    site: WebchatSite,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    base_url = runtime.settings.base_url
    return render(
        request,
        "chat_site.html",
        status_code=status_code,
        lang=lang,
        page_url=f"{PATH}/{site.key}",
        site=site,
        hours=site_form.hours_text(site.business_hours, lang),
        snippet=site_form.embed_snippet(base_url, site.key),
        anonymous_snippet=site_form.anonymous_snippet(base_url, site.key),
        values=values or site_form.values_of(site),
        problems=problems or {},
        secret=secret,
        **_common(lang),
    )


@router.get("")
async def list_chat_sites(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    lang = _require_admin(request, me)
    async with runtime.db.transaction() as session:
        rows = list(await sites.list_sites(session))
    return render(request, "chat_sites.html", lang=lang, chat_sites=rows, nav="chat_sites")


@router.get("/new")
async def new_chat_site(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    lang = _require_admin(request, me)
    return render(
        request,
        "chat_site_new.html",
        lang=lang,
        values=dict(site_form.NEW_SITE),
        problems={},
        **_common(lang),
    )


@router.post("/new")
async def create_chat_site(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    lang = _require_admin(request, me)
    parsed = site_form.read_form(form, lang)
    key = None
    if not parsed.problems:
        try:
            async with runtime.db.transaction() as db_session:
                site = await sites.create_site(
                    db_session,
                    me.actor,
                    name=parsed.name,
                    origins=parsed.origins,
                    business_hours=parsed.business_hours,
                )
                key, name = site.key, site.name
        except InvalidInput as exc:
            parsed.problems = site_form.service_problem(exc, lang)
    if key is None:
        return render(
            request,
            "chat_site_new.html",
            status_code=422,
            lang=lang,
            page_url=f"{PATH}/new",
            values=parsed.values,
            problems=parsed.problems,
            **_common(lang),
        )
    session.flash(lang.gettext("Chat site %(name)s added.", name=name))
    return RedirectResponse(f"{PATH}/{key}", status_code=303)


@router.get("/{key}")
async def chat_site(request: Request, key: str, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    lang = _require_admin(request, me)
    site = await _load_site(runtime, key, lang)
    return _site_page(request, runtime, lang, site)


@router.post("/{key}")
async def update_chat_site(
    request: Request,
    key: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = _require_admin(request, me)
    site = await _load_site(runtime, key, lang)
    parsed = site_form.read_form(form, lang)
    if not parsed.problems:
        try:
            async with runtime.db.transaction() as db_session:
                await sites.update_site(
                    db_session,
                    me.actor,
                    site.key,
                    name=parsed.name,
                    origins=parsed.origins,
                    business_hours=parsed.business_hours,
                )
        except InvalidInput as exc:
            parsed.problems = site_form.service_problem(exc, lang)
    if parsed.problems:
        return _site_page(
            request,
            runtime,
            lang,
            site,
            values=parsed.values,
            problems=parsed.problems,
            status_code=422,
        )
    session.flash(lang.gettext("Chat site saved."))
    return RedirectResponse(f"{PATH}/{site.key}", status_code=303)


@router.post("/{key}/active")
async def set_chat_site_active(
    request: Request,
    key: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = _require_admin(request, me)
    wanted = form_text(form, "active")
    if wanted not in ("0", "1"):
        raise PageError(400, lang.gettext("The address or form is not valid."))
    site = await _load_site(runtime, key, lang)
    async with runtime.db.transaction() as db_session:
        await sites.set_site_active(db_session, me.actor, site.key, active=wanted == "1")
    if wanted == "1":
        session.flash(lang.gettext("Chat is on: the widget on this site accepts new chats."))
    else:
        session.flash(lang.gettext("Chat is off: the widget on this site refuses new chats."))
    return RedirectResponse(f"{PATH}/{site.key}", status_code=303)


@router.post("/{key}/secret")
async def reveal_chat_site_secret(
    request: Request, key: str, me: CurrentAgent, form: PostedForm, runtime: RuntimeDep
) -> Response:
    """Shows the identity secret in this response only; the audit trail records who saw it."""
    lang = _require_admin(request, me)
    site = await _load_site(runtime, key, lang)
    async with runtime.db.transaction() as db_session:
        secret = await sites.reveal_identity_secret(db_session, me.actor, site.key)
    return _site_page(request, runtime, lang, site, secret=secret)


@router.get("/{key}/rotate-secret")
async def confirm_rotation(
    request: Request, key: str, me: CurrentAgent, runtime: RuntimeDep
) -> Response:
    lang = _require_admin(request, me)
    site = await _load_site(runtime, key, lang)
    return render(
        request, "chat_site_rotate.html", lang=lang, site=site, secret=None, nav="chat_sites"
    )


@router.post("/{key}/rotate-secret")
async def rotate_chat_site_secret(
    request: Request, key: str, me: CurrentAgent, form: PostedForm, runtime: RuntimeDep
) -> Response:
    """A new secret, shown once in this answer (never stored anywhere it could be read again)."""
    lang = _require_admin(request, me)
    site = await _load_site(runtime, key, lang)
    async with runtime.db.transaction() as db_session:
        secret = await sites.rotate_identity_secret(db_session, me.actor, site.key)
    return render(
        request,
        "chat_site_rotate.html",
        lang=lang,
        page_url=f"{PATH}/{site.key}",
        site=site,
        secret=secret,
        nav="chat_sites",
    )
