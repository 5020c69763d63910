"""Live hints for the console: ticket events as server-sent events.

An agent receives the events of tickets in their own tier; supervisors and admins all.
Events only say "this ticket changed": the page reloads what it shows from the server.
A comment line every HEARTBEAT_SECONDS keeps proxies from closing an idle stream and
notices a vanished client; the session is re-checked then too, so a deactivated agent's
stream ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from walletdesk.console.routing import ConsoleRoute
from walletdesk.console.session import ConsoleAgent, signed_in_agent
from walletdesk.core.events import TICKETS_TOPIC, Event
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 5000
_RELAYED_FIELDS = ("type", "number", "status", "tier")


def may_see(me: ConsoleAgent, event: Event) -> bool:
    # `old_tier` (when core sends it with an escalation) tells the queue a ticket just left.
    return me.sees_all_queues or me.tier in (event.get("tier"), event.get("old_tier"))


def format_event(event: Event) -> str:
    data = {key: event[key] for key in _RELAYED_FIELDS if key in event}
    return f"event: ticket\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def relay(
    request: Request, runtime: Runtime, me: ConsoleAgent, heartbeat: float = HEARTBEAT_SECONDS
) -> AsyncIterator[str]:
    async with runtime.bus.subscribe(TICKETS_TOPIC) as events:
        iterator = events.__aiter__()
        # One pending read at a time, never cancelled by a heartbeat: cancelling the bus's
        # iterator mid-wait would end it.
        pending: asyncio.Task[Any] | None = None
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=heartbeat)
                if not done:
                    if await signed_in_agent(request) is None:
                        return
                    yield ": heartbeat\n\n"
                    continue
                event, pending = pending.result(), None
                if isinstance(event, dict) and event.get("gap"):
                    yield format_event({"type": "resync"})  # missed some: the page reloads
                elif isinstance(event, dict) and may_see(me, event):
                    yield format_event(event)
        finally:
            if pending is not None:
                pending.cancel()
                with suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending


@router.get("/events")
async def ticket_events(request: Request) -> Response:
    me = await signed_in_agent(request)
    if me is None:
        return PlainTextResponse("sign in first", status_code=401)
    runtime: Runtime = request.app.state.runtime
    heartbeat = getattr(request.app.state, "console_heartbeat_seconds", HEARTBEAT_SECONDS)
    return StreamingResponse(
        relay(request, runtime, me, heartbeat=float(heartbeat)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
