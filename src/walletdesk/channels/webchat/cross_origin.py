"""Answering the wallet's pages: which site or conversation a request speaks for, and CORS.

The widget's HTTP calls come from the wallet's pages, another origin. A request names its
site by key (or its conversation by resume token); the site must be active and, when the
request sends an Origin, allow it. JSON answers carry CORS headers for that origin (errors
too, so the widget can show them), are never cached and send no referrer.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from walletdesk.channels.webchat.hubs import hub_of
from walletdesk.channels.webchat.identity import Resume, read_resume_token
from walletdesk.channels.webchat.protocol import ChatForbidden, ChatNotFound, error_code
from walletdesk.channels.webchat.sites import Site
from walletdesk.core.errors import DomainError, InvalidInput
from walletdesk.http.errors import status_for
from walletdesk.runtime import Runtime


def _cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def answer(data: dict[str, Any], status: int = 200, origin: str | None = None) -> JSONResponse:
    headers = _cors(origin) | {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return JSONResponse(data, status_code=status, headers=headers)


def refused(exc: DomainError, origin: str | None) -> JSONResponse:
    content: dict[str, Any] = {"error": str(exc), "code": error_code(exc)}
    if isinstance(exc, InvalidInput):
        content["fields"] = [{"field": exc.field, "message": exc.message}]
    return answer(content, status_for(exc), origin)


def preflight(request: Request) -> Response:
    # Which origins may call is decided on the real request (it knows the site); the
    # preflight only says which methods and headers exist.
    return Response(status_code=204, headers=_cors(request.headers.get("origin")))


async def site_for_origin(request: Request, key: str) -> tuple[Site, str | None]:
    """The active site and the request's Origin, which it must allow when one is sent."""
    hub = hub_of(request.app)
    site = await hub.sites.get(key) if 0 < len(key) <= 40 else None
    return _usable(site, request.headers.get("origin"))


async def resume_from_token(request: Request, token: str) -> tuple[Resume, Site, str | None]:
    """The conversation a chat token stands for, its site, and the request's Origin."""
    runtime: Runtime = request.app.state.runtime
    resume = read_resume_token(runtime.settings.resolved_secret_key(), token)
    if resume is None:
        raise ChatForbidden("bad_token", "the chat token is not valid; reload the page")
    site, origin = _usable(
        await hub_of(request.app).sites.by_id(resume.site_id), request.headers.get("origin")
    )
    return resume, site, origin


def _usable(site: Site | None, origin: str | None) -> tuple[Site, str | None]:
    if site is None:
        raise ChatNotFound("unknown_site", "no active chat site with this key")
    if not site.is_active:
        raise ChatForbidden("site_inactive", "this site's chat has been turned off")
    if origin is not None and not site.allows(origin):
        raise ChatForbidden(
            "origin_not_allowed", "this page's origin is not allowed for the chat site"
        )
    return site, origin


def request_ip(request: Request) -> str:
    """The address per-address limits count against."""
    return request.client.host if request.client else "unknown"
