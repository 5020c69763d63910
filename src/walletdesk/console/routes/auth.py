"""Signing in (password, then a TOTP code when the agent has one) and out.

Every failure shows the same message, so the form does not tell which emails exist or
which accounts are disabled.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from walletdesk.console import reads
from walletdesk.console.i18n import Lang
from walletdesk.console.ratelimit import LoginLimiter
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, local_path
from walletdesk.console.session import (
    ConsoleAgent,
    CurrentAgent,
    PostedForm,
    RuntimeDep,
    Session,
    form_text,
    signed_in_agent,
    snapshot,
)
from walletdesk.core.agents.models import Agent, Presence
from walletdesk.core.agents.service import authenticate, complete_totp_sign_in, set_presence
from walletdesk.core.audit.service import record

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _failed(lang: Lang) -> str:
    return lang.gettext("The email, password or code is not right, or the account is disabled.")


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.console_login_limiter
    return limiter


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(request: Request, template: str, next_url: str, **context: Any) -> Response:
    lang = request_lang(request)
    message = lang.gettext("Too many sign-in attempts. Wait a minute and try again.")
    return render(request, template, status_code=429, error=message, next_url=next_url, **context)


@router.get("/login", name="console_login")
async def login_page(request: Request, next: str = "") -> Response:
    next_url = local_path(next)
    if await signed_in_agent(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return render(request, "login.html", next_url=next_url, email="", error=None)


@router.post("/login")
async def login(
    request: Request, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    email = form_text(form, "email").strip()
    password = form_text(form, "password")
    next_url = local_path(form_text(form, "next"))
    keys = (f"ip:{_client_ip(request)}", f"email:{email.lower()}")
    if _limiter(request).blocked(*keys):
        return _too_many(request, "login.html", next_url, email=email)
    signed_in: Agent | None = None
    awaiting_code: Agent | None = None
    async with runtime.db.transaction() as db_session:
        result = await authenticate(db_session, email, password)
        if result.agent is not None:
            signed_in = result.agent
            await set_presence(db_session, signed_in.id, Presence.ONLINE)
            await record(
                db_session, snapshot(signed_in).actor, "agent.signed_in", "agent", signed_in.id
            )
        elif result.needs_totp:
            awaiting_code = await reads.agent_by_email(db_session, email)
    if signed_in is not None:
        session.sign_in(signed_in)
        return RedirectResponse(next_url, status_code=303)
    if awaiting_code is not None:
        session.await_totp(awaiting_code)
        return RedirectResponse(f"/console/login/code?next={quote(next_url)}", status_code=303)
    _limiter(request).failed(*keys)
    error = _failed(request_lang(request))
    return render(
        request, "login.html", status_code=401, next_url=next_url, email=email, error=error
    )


@router.get("/login/code")
async def code_page(request: Request, session: Session, next: str = "") -> Response:
    next_url = local_path(next)
    if not session.pending_valid():
        return RedirectResponse(f"/console/login?next={quote(next_url)}", status_code=303)
    return render(request, "login_code.html", next_url=next_url, error=None)


@router.post("/login/code")
async def submit_code(
    request: Request, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    next_url = local_path(form_text(form, "next"))
    pending_id = session.pending_agent_id
    if not session.pending_valid() or pending_id is None:
        session.sign_out()
        session.flash(_failed(request_lang(request)), "error")
        return RedirectResponse(f"/console/login?next={quote(next_url)}", status_code=303)
    keys = (f"ip:{_client_ip(request)}", f"agent:{pending_id}")
    if _limiter(request).blocked(*keys):
        return _too_many(request, "login_code.html", next_url)
    signed_in: Agent | None = None
    async with runtime.db.transaction() as db_session:
        agent = await reads.load_agent(db_session, pending_id)
        if agent is not None and await complete_totp_sign_in(
            db_session, agent, form_text(form, "code")
        ):
            signed_in = agent
            await set_presence(db_session, agent.id, Presence.ONLINE)
            await record(db_session, snapshot(agent).actor, "agent.signed_in", "agent", agent.id)
    if signed_in is None:
        _limiter(request).failed(*keys)
        error = _failed(request_lang(request))
        return render(request, "login_code.html", status_code=401, next_url=next_url, error=error)
    session.sign_in(signed_in)
    return RedirectResponse(next_url, status_code=303)


@router.post("/logout")
async def logout(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    await _record_sign_out(runtime, me)
    session.sign_out()
    session.flash(request_lang(request).gettext("You are signed out."))
    return RedirectResponse(f"/console/login?lang={me.locale}", status_code=303)


async def _record_sign_out(runtime: RuntimeDep, me: ConsoleAgent) -> None:
    async with runtime.db.transaction() as db_session:
        await set_presence(db_session, me.id, Presence.OFFLINE)
        await record(db_session, me.actor, "agent.signed_out", "agent", me.id)
