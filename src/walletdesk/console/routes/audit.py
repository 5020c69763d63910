"""The audit log: supervisors and admins read who did what, newest first."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import CurrentAgent, RuntimeDep
from walletdesk.core.audit.service import list_events
from walletdesk.core.errors import PermissionDenied

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

PAGE_SIZE = 50


@router.get("/audit")
async def audit_log(
    request: Request, me: CurrentAgent, runtime: RuntimeDep, ticket: str = "", before: str = ""
) -> Response:
    lang = request_lang(request)
    ticket = ticket.strip()
    if (before and not before.isdigit()) or len(ticket) > 20:
        raise PageError(400, lang.gettext("The address or form is not valid."))
    async with runtime.db.transaction() as session:
        try:
            events = await list_events(
                session,
                me.actor,
                target_kind="ticket" if ticket else None,
                target_id=ticket or None,
                before_id=int(before) if before else None,
                limit=PAGE_SIZE + 1,
            )
        except PermissionDenied:
            message = lang.gettext("Only supervisors and administrators may read the audit log.")
            raise PageError(403, message) from None
    older_url = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        query = {"ticket": ticket} if ticket else {}
        older_url = "/console/audit?" + urlencode({**query, "before": events[-1].id})
    return render(
        request, "audit.html", events=events, ticket=ticket, older_url=older_url, nav="audit"
    )
