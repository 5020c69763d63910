"""The inbox: the agent's queues, filtered, newest activity first, keyset-paginated."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from walletdesk.console import labels, reads
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import ConsoleAgent, CurrentAgent, RuntimeDep
from walletdesk.core.contacts.service import contact_names
from walletdesk.core.tickets.models import TIERS, Status
from walletdesk.core.tickets.queries import InboxFilter, list_tickets

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

STATUS_CHOICES = ("active", *Status, "any")
ASSIGNEE_CHOICES = ("", "mine", "unassigned")
MAX_QUERY_CHARS = 200


def _filter(
    me: ConsoleAgent, status: str, tier: str, channel: str, assignee: str, q: str
) -> InboxFilter:
    if status not in STATUS_CHOICES:
        raise ValueError("status")
    if assignee not in ASSIGNEE_CHOICES:
        raise ValueError("assignee")
    if tier and tier not in {str(t) for t in TIERS}:
        raise ValueError("tier")
    if len(channel) > 20 or len(q) > MAX_QUERY_CHARS:
        raise ValueError("q")
    return InboxFilter(
        status=None if status == "any" else status,
        tier=int(tier) if tier else None,
        channel=channel or None,
        assignee_id=me.id if assignee == "mine" else None,
        unassigned=assignee == "unassigned",
        q=q.strip() or None,
    )


@router.get("", include_in_schema=False)
async def inbox_without_slash() -> Response:
    return RedirectResponse("/console/", status_code=307)


@router.get("/")
async def inbox(
    request: Request,
    me: CurrentAgent,
    runtime: RuntimeDep,
    status: str = "active",
    tier: str = "",
    channel: str = "",
    assignee: str = "",
    q: str = "",
    cursor: str = "",
) -> Response:
    try:
        filters = _filter(me, status, tier, channel, assignee, q)
    except ValueError:
        message = request_lang(request).gettext("That filter is not one the inbox offers.")
        raise PageError(400, message) from None
    async with runtime.db.transaction() as session:
        page = await list_tickets(session, me.actor, filters, cursor=cursor or None)
        customers = await contact_names(session, {t.contact_id for t in page.tickets})
        assignees = await reads.agent_names(session, (t.assignee_id for t in page.tickets))
    chosen = {"status": status, "tier": tier, "channel": channel, "assignee": assignee, "q": q}
    # The default status stays out of links, so they read like the ones in the navigation.
    kept = {key: value for key, value in chosen.items() if value and value != "active"}
    older_url = (
        "/console/?" + urlencode({**kept, "cursor": page.next_cursor}) if page.next_cursor else None
    )
    channels = sorted(set(labels.CHANNEL) | set(runtime.channels.names()))
    return render(
        request,
        "inbox.html",
        tickets=page.tickets,
        customers=customers,
        assignees=assignees,
        chosen=chosen,
        status_choices=[s for s in STATUS_CHOICES if s not in ("active", "any")],
        channels=channels,
        tiers=[str(t) for t in TIERS],
        older_url=older_url,
        newest_url="/console/?" + urlencode(kept) if cursor else None,
        nav="mine" if assignee == "mine" else "unassigned" if assignee == "unassigned" else "inbox",
    )
