"""The agent console: server-rendered pages under /console, mounted on the main app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from walletdesk.console.ratelimit import LoginLimiter
from walletdesk.console.render import request_lang
from walletdesk.console.routes import (
    admin,
    audit,
    auth,
    chat_sites,
    contact,
    events,
    help_articles,
    help_deflection,
    inbox,
    me,
    ticket,
    ticket_actions,
)
from walletdesk.console.routing import ConsoleRoute, error_page
from walletdesk.console.session import signed_in_agent

STATIC_DIR = Path(__file__).parent / "static"

_fallback = APIRouter(prefix="/console", route_class=ConsoleRoute)


@_fallback.get("/{rest:path}", include_in_schema=False)
async def unknown_page(request: Request, rest: str) -> Response:
    """Any other console address: a 404 page in the agent's language, not the API's JSON."""
    await signed_in_agent(request)
    return error_page(request, 404, request_lang(request).gettext("This page does not exist."))


def mount_console(app: FastAPI) -> None:
    """Add the console's routes and static files. Call it after every other router with
    /console pages (webchat's workspace, …): its 404 page catches any GET left unmatched."""
    runtime = app.state.runtime
    app.state.console_login_limiter = LoginLimiter(runtime.settings.login_rate_per_minute)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for module in (
        auth,
        inbox,
        ticket,
        ticket_actions,
        contact,
        audit,
        admin,
        chat_sites,
        me,
        events,
        help_articles,
        help_deflection,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.include_router(_fallback)
