"""The chat-site form of the console: what an administrator typed, read into what the site
service takes, and what is wrong with it in the administrator's language.

The service (channels/webchat/sites.py) decides what a valid name, origin or business-hours
window is; this module only splits the form into those pieces so that every problem can be
shown at once, next to its field, with the typed text kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from babel.dates import get_day_names
from starlette.datastructures import FormData

from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.channels.webchat.sites import MAX_ORIGINS, normalize_origin, parse_business_hours
from walletdesk.console.i18n import N_, Lang
from walletdesk.console.session import form_text
from walletdesk.core.errors import InvalidInput

FIELDS = ("name", "origins", "hours_mode", "first_day", "last_day", "opens", "closes", "timezone")
# Origins cannot hold spaces or commas: either separates them, as well as new lines.
_ORIGIN_SEPARATORS = re.compile(r"[\s,，]+")
# Longer than any IANA zone name; keeps an absurd value away from the zone database.
MAX_ZONE_CHARS = 64
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "UTC",
)
NEW_SITE = {
    "name": "",
    "origins": "",
    "hours_mode": "always",
    "first_day": "1",
    "last_day": "5",
    "opens": "09:00",
    "closes": "18:00",
    "timezone": "Asia/Shanghai",
}
SITE_FIELD = {
    "name": N_("Site name"),
    "origins": N_("Allowed origins"),
    "hours": N_("Business hours"),
}
PROBLEM = {
    "name": N_("Enter a name of one line, such as Wallet website."),
    "origins": N_(
        "Enter the origins the widget may run on, one a line: scheme and host, and a port "
        "if needed, such as https://wallet.example or http://127.0.0.1:8080 (no path)."
    ),
    "hours": N_(
        "Choose the first and last day and the opening and closing times (HH:MM, different "
        "from each other), and enter a time zone such as Asia/Shanghai. The first day must "
        "not come after the last."
    ),
}
BAD_ORIGINS = N_("Not an origin: %(values)s.")
TOO_MANY_ORIGINS = N_("At most %(count)s origins per site.")


@dataclass
class SiteForm:
    """The form as typed (`values`), and what the service will get when `problems` is empty."""

    values: dict[str, str]
    name: str = ""
    origins: list[str] = field(default_factory=list)
    business_hours: dict[str, Any] | None = None
    problems: dict[str, str] = field(default_factory=dict)


def values_of(site: WebchatSite) -> dict[str, str]:
    """A stored site as the form shows it."""
    hours = site.business_hours
    values = dict(NEW_SITE) | {"name": site.name, "origins": "\n".join(site.allowed_origins)}
    if hours:
        values |= {
            "hours_mode": "hours",
            "first_day": str(hours["days"][0]),
            "last_day": str(hours["days"][-1]),
            "opens": str(hours["open"]),
            "closes": str(hours["close"]),
            "timezone": str(hours["timezone"]),
        }
    return values


def read_form(form: FormData, lang: Lang) -> SiteForm:
    values = {name: form_text(form, name) for name in FIELDS}
    for name in FIELDS:
        if name != "origins":
            values[name] = values[name].strip()
    parsed = SiteForm(values=values, name=values["name"])
    if not parsed.name:
        parsed.problems["name"] = lang.gettext(PROBLEM["name"])
    origins = [o for o in _ORIGIN_SEPARATORS.split(values["origins"]) if o]
    bad = [o for o in origins if not _is_origin(o)]
    if bad:
        shown = ", ".join(f"“{o[:100]}”" for o in bad[:5])
        message = lang.gettext(BAD_ORIGINS, values=shown)
        parsed.problems["origins"] = f"{message} {lang.gettext(PROBLEM['origins'])}"
    elif not origins:
        parsed.problems["origins"] = lang.gettext(PROBLEM["origins"])
    elif len({normalize_origin(o) for o in origins}) > MAX_ORIGINS:
        parsed.problems["origins"] = lang.gettext(TOO_MANY_ORIGINS, count=MAX_ORIGINS)
    parsed.origins = origins
    if values["hours_mode"] == "hours":
        try:
            parsed.business_hours = _hours(values)
        except InvalidInput:
            parsed.problems["hours"] = lang.gettext(PROBLEM["hours"])
    elif values["hours_mode"] != "always":
        parsed.problems["hours"] = lang.gettext(PROBLEM["hours"])
    return parsed


def _is_origin(value: str) -> bool:
    try:
        normalize_origin(value)
    except InvalidInput:
        return False
    return True


def _hours(values: dict[str, str]) -> dict[str, Any]:
    zone = values["timezone"]
    if len(zone) > MAX_ZONE_CHARS:
        raise InvalidInput("hours", "time zone too long")
    # <input type="time"> may add seconds (HH:MM:SS) in some browsers; the minute is enough.
    opens, closes = values["opens"][:5], values["closes"][:5]
    text = f"{values['first_day']}-{values['last_day']} {opens}-{closes} {zone}"
    return parse_business_hours(text)


def service_problem(exc: InvalidInput, lang: Lang) -> dict[str, str]:
    """A refusal from the service (a rule this form did not check first), on its field."""
    form_field = "origins" if exc.field == "origin" else exc.field
    if form_field in PROBLEM:
        return {form_field: lang.gettext(PROBLEM[form_field])}
    return {"form": f"{exc.field}: {exc.message}"}


def weekdays(lang: Lang) -> list[tuple[str, str]]:
    """ISO weekday numbers (Monday = 1) with their names in the administrator's language."""
    names = get_day_names("wide", locale=lang.babel)
    return [(str(day + 1), str(names[day])) for day in range(7)]


def hours_text(hours: dict[str, Any] | None, lang: Lang) -> str:
    """'Monday–Friday 09:00–18:00 (Asia/Shanghai)'; '' for always open."""
    if not hours:
        return ""
    names = dict(weekdays(lang))
    first, last = names[str(hours["days"][0])], names[str(hours["days"][-1])]
    days = first if first == last else f"{first}–{last}"
    return f"{days} {hours['open']}–{hours['close']} ({hours['timezone']})"


def embed_snippet(base_url: str, key: str) -> str:
    """The tag for the site's pages, exactly as the README shows it, with this site's key."""
    return (
        f'<script src="{base_url.rstrip("/")}/webchat/widget.js" data-site="{key}"'
        ' data-locale="zh-CN"\n'
        '        data-color="#1677ff" data-position="right" defer\n'
        '        data-user-id="u_1001" data-user-expires="1764300000"\n'
        '        data-user-signature="…hex…" data-user-name="王小明"'
        ' data-user-email="…"></script>'
    )


def anonymous_snippet(base_url: str, key: str) -> str:
    """The shortest tag that works: anonymous visitors, the widget's defaults."""
    return (
        f'<script src="{base_url.rstrip("/")}/webchat/widget.js" data-site="{key}" defer></script>'
    )
