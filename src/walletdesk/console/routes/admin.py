"""Agent administration: administrators list agents and create new ones."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError, describe
from walletdesk.console.session import (
    ConsoleAgent,
    CurrentAgent,
    PostedForm,
    RuntimeDep,
    Session,
    form_text,
)
from walletdesk.core.agents.service import create_agent, list_agents
from walletdesk.core.errors import Conflict, InvalidInput
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute)

_EMPTY_FORM = {"email": "", "name": "", "role": "agent", "tier": "1", "locale": "zh-CN"}


def _require_admin(request: Request, me: ConsoleAgent) -> None:
    if not me.is_admin:
        message = request_lang(request).gettext("Only administrators may manage agents.")
        raise PageError(403, message)


async def _agents_page(
    request: Request,
    runtime: Runtime,
    *,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    async with runtime.db.transaction() as session:
        agents = await list_agents(session)
    return render(
        request,
        "admin_agents.html",
        status_code=status_code,
        page_url="/console/admin/agents",
        agents=agents,
        values=values,
        error=error,
        nav="agents",
    )


@router.get("/agents")
async def agents(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    _require_admin(request, me)
    return await _agents_page(request, runtime, values=dict(_EMPTY_FORM))


@router.post("/agents")
async def add_agent(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    _require_admin(request, me)
    lang = request_lang(request)
    values = {name: form_text(form, name).strip() for name in _EMPTY_FORM}
    try:
        if not values["tier"].isdigit():
            raise InvalidInput("tier", "must be 1, 2 or 3")
        if values["locale"] not in ("zh-CN", "en"):
            raise InvalidInput("locale", "must be zh-CN or en")
        async with runtime.db.transaction() as db_session:
            agent = await create_agent(
                db_session,
                me.actor,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                tier=int(values["tier"]),
                password=form_text(form, "password") or None,
                locale=values["locale"],
            )
            name = agent.name
    except (InvalidInput, Conflict) as exc:
        return await _agents_page(
            request, runtime, values=values, error=describe(exc, lang), status_code=422
        )
    session.flash(lang.gettext("Agent %(name)s created.", name=name))
    return RedirectResponse("/console/admin/agents", status_code=303)
