"""The deflection report in the console: how many questions suggested help articles answered
before they reached an agent, per channel, and which articles did it. Supervisors and admins.

The figures come from the help center's own report (`queries.deflection_report`), the same
one the API serves; this page only picks the period and renders.
"""

from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_percent
from fastapi import APIRouter, Request, Response

from walletdesk.console.i18n import N_, Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError
from walletdesk.console.session import ConsoleAgent, CurrentAgent, RuntimeDep
from walletdesk.db import utcnow
from walletdesk.helpcenter import queries

router = APIRouter(prefix="/console", route_class=ConsoleRoute)

PERIODS = {
    "7": N_("Last 7 days"),
    "30": N_("Last 30 days"),
    "90": N_("Last 90 days"),
    "365": N_("Last 365 days"),
}
DEFAULT_PERIOD = "30"
TOP_ARTICLES = 10


def _require_supervisor(request: Request, me: ConsoleAgent) -> Lang:
    lang = request_lang(request)
    if not me.sees_all_queues:
        message = lang.gettext("Only supervisors and administrators may see the deflection report.")
        raise PageError(403, message)
    return lang


def percent(lang: Lang, rate: float) -> str:
    return str(format_percent(rate, "#,##0.0%", locale=lang.babel))


@router.get("/help/deflection")
async def deflection_report(
    request: Request, me: CurrentAgent, runtime: RuntimeDep, days: str = DEFAULT_PERIOD
) -> Response:
    lang = _require_supervisor(request, me)
    if days not in PERIODS:
        raise PageError(400, lang.gettext("The address or form is not valid."))
    until = utcnow()
    async with runtime.db.transaction() as session:
        report = await queries.deflection_report(
            session, until - timedelta(days=int(days)), until, top=TOP_ARTICLES
        )
    return render(
        request,
        "help_deflection.html",
        report=report,
        days=days,
        periods=PERIODS,
        percent=lambda rate: percent(lang, rate),
        nav="help",
    )
