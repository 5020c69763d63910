"""What agents do on a ticket page: reply, note, change fields, escalate.

Each form posts here, the service makes the change, and the browser is sent back to the
page (post/redirect/get) with a message. A refused change is shown as a message; a reply
that could not be stored is shown again with its text, so nothing typed is lost (files
cannot be put back into a file input: the agent is asked to choose them again).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from walletdesk.console.render import request_lang
from walletdesk.console.routes.ticket import load_ticket_for, ticket_page
from walletdesk.console.routing import ConsoleRoute, PageError, describe
from walletdesk.console.session import (
    ConsoleAgent,
    ConsoleSession,
    CurrentAgent,
    PostedForm,
    RuntimeDep,
    Session,
    form_text,
    posted_form,
)
from walletdesk.core.attachments.uploads import attach_files, read_uploads
from walletdesk.core.errors import Conflict, InvalidInput, NotFound
from walletdesk.core.tickets.models import Status
from walletdesk.core.tickets.service import (
    TicketChanges,
    escalate_ticket,
    post_agent_message,
    update_ticket,
)
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

MAX_REASON_CHARS = 2000
# Agents type Chinese commas as often as ASCII ones.
_TAG_SEPARATORS = re.compile(r"[,，、]")


def _back(number: str) -> RedirectResponse:
    return RedirectResponse(f"/console/tickets/{number}", status_code=303)


@router.post("/tickets/{number}/reply")
async def reply(
    request: Request,
    number: str,
    me: CurrentAgent,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    try:
        form = await posted_form(request)
        return await _reply(request, number, me, form, session, runtime)
    finally:
        # Uploads are spooled to temporary files: closed even when the CSRF check refused.
        await request.close()


async def _reply(
    request: Request,
    number: str,
    me: ConsoleAgent,
    form: FormData,
    session: ConsoleSession,
    runtime: Runtime,
) -> Response:
    lang = request_lang(request)
    body = form_text(form, "body")
    mode = form_text(form, "mode") or "reply"
    status = form_text(form, "status")
    if mode not in ("reply", "note") or (status and status not in set(Status)):
        raise PageError(400, lang.gettext("The address or form is not valid."))
    problem = None
    if not body.strip():
        problem = lang.gettext("Write a message first.")
    elif len(body) > runtime.settings.max_message_chars:
        problem = lang.gettext(
            "The message is longer than %(limit)s characters.",
            limit=runtime.settings.max_message_chars,
        )
    else:
        try:
            # Read and checked before the ticket's row is locked: uploads can be large.
            files = await read_uploads(form.getlist("files"))
            async with runtime.db.transaction() as db_session:
                ticket = await load_ticket_for(db_session, me, number, lang, for_update=True)
                message = await post_agent_message(
                    db_session,
                    me.actor,
                    ticket,
                    body=body,
                    internal=mode == "note",
                    status=status or None,
                )
                # Same transaction as the reply and its delivery job: the email carries them.
                await attach_files(db_session, runtime.files, message.id, files)
        except InvalidInput as exc:
            if exc.field in ("files", "attachment"):
                problem = lang.gettext(
                    "The files were not accepted: %(reason)s", reason=exc.message
                )
            else:
                problem = describe(exc, lang)
        except Conflict as exc:
            problem = describe(exc, lang)
    if problem and any(getattr(v, "filename", "") for v in form.getlist("files")):
        problem += " " + lang.gettext("Nothing was sent: choose the files again.")
    if problem:
        session.flash(problem, "error")
        return await ticket_page(
            request, me, runtime, number, draft=body, draft_mode=mode, status_code=422
        )
    session.flash(
        lang.gettext("Internal note added.") if mode == "note" else lang.gettext("Reply sent.")
    )
    return _back(number)


def _changes(form: PostedForm) -> TicketChanges:
    changes = TicketChanges()
    for field in ("status", "priority", "category"):
        if field in form:
            setattr(changes, field, form_text(form, field))
    if "assignee" in form:
        chosen = form_text(form, "assignee")
        if chosen and not chosen.isdigit():
            raise InvalidInput("assignee", "choose an agent from the list")
        changes.assignee_id = int(chosen) if chosen else None
    if "tags" in form:
        parts = _TAG_SEPARATORS.split(form_text(form, "tags"))
        changes.tags = [part for part in parts if part.strip()]
    return changes


@router.post("/tickets/{number}/update")
async def update(
    request: Request,
    number: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = request_lang(request)
    try:
        changes = _changes(form)
        async with runtime.db.transaction() as db_session:
            ticket = await load_ticket_for(db_session, me, number, lang, for_update=True)
            await update_ticket(db_session, me.actor, ticket, changes)
    except (InvalidInput, Conflict) as exc:
        session.flash(describe(exc, lang), "error")
        return _back(number)
    session.flash(lang.gettext("Saved."))
    return _back(number)


@router.post("/tickets/{number}/escalate")
async def escalate(
    request: Request,
    number: str,
    me: CurrentAgent,
    form: PostedForm,
    session: Session,
    runtime: RuntimeDep,
) -> Response:
    lang = request_lang(request)
    reason = form_text(form, "reason").strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        session.flash(
            lang.gettext(
                "Say why the ticket needs a higher tier (at most %(limit)s characters).",
                limit=MAX_REASON_CHARS,
            ),
            "error",
        )
        return _back(number)
    try:
        async with runtime.db.transaction() as db_session:
            ticket = await load_ticket_for(db_session, me, number, lang, for_update=True)
            await escalate_ticket(db_session, me.actor, ticket, reason)
            new_tier = ticket.tier
    except (InvalidInput, Conflict, NotFound) as exc:
        session.flash(describe(exc, lang), "error")
        return _back(number)
    session.flash(
        lang.gettext(
            "Ticket %(number)s is now in the L%(tier)s queue.", number=number, tier=new_tier
        )
    )
    if me.sees_all_queues or new_tier == me.tier:
        return _back(number)
    # It left this agent's queues: its page would now refuse them.
    return RedirectResponse("/console/", status_code=303)
