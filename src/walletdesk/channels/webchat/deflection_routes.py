"""Help before a chat over HTTP: the suggestions endpoint and the deflection reports.

Thin routes over suggestions.py, which explains both: articles suggested as the customer
types, and what the customer did with them, which the help center turns into its
deflection rate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from walletdesk.channels.webchat.cross_origin import (
    answer,
    preflight,
    refused,
    request_ip,
    site_for_origin,
)
from walletdesk.channels.webchat.hubs import hub_of
from walletdesk.channels.webchat.suggestions import record_report, suggest
from walletdesk.core.errors import DomainError
from walletdesk.helpcenter.ratelimit import retry_after_for

router = APIRouter()


@router.get("/api/suggestions")
async def suggestions(
    request: Request,
    site: Annotated[str, Query(max_length=40)],
    q: Annotated[str, Query(max_length=500)] = "",
    locale: Annotated[str, Query(max_length=10)] = "zh-CN",
) -> Response:
    """Help-center articles matching what the customer is typing, with the set's id."""
    origin = request.headers.get("origin")
    try:
        the_site, origin = await site_for_origin(request, site)
    except DomainError as exc:
        return refused(exc, origin)
    hub = hub_of(request.app)
    if not hub.ip_limits.window(f"suggest:{request_ip(request)}", 120).hit():
        return answer({"suggestions": []}, origin=origin)
    found = await suggest(hub.runtime, the_site.key, q, "en" if locale == "en" else "zh-CN")
    return answer(found, origin=origin)


@router.options("/api/deflections", include_in_schema=False)
async def deflection_preflight(request: Request) -> Response:
    return preflight(request)


@router.post("/api/deflections")
async def deflection(request: Request, site: Annotated[str, Query(max_length=40)]) -> Response:
    """What the customer did with suggestions before a chat: shown, opened, solved, sent anyway."""
    origin = request.headers.get("origin")
    try:
        _site, origin = await site_for_origin(request, site)
        # The help center's public limit: one budget per address with its own endpoints.
        if wait := retry_after_for(request):
            response = answer(
                {"error": "too many requests; retry later", "code": "rate_limited"}, 429, origin
            )
            response.headers["Retry-After"] = str(wait)
            return response
        await record_report(hub_of(request.app).runtime, request)
    except DomainError as exc:
        return refused(exc, origin)
    return answer({"status": "recorded"}, 201, origin)
