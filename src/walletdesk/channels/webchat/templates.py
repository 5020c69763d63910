"""Rendering this channel's own pages (autoescaped; user text only ever arrives as data)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

STATIC_VERSION = "1"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("walletdesk.channels.webchat", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_version"] = STATIC_VERSION
    return env


def render_page(
    template: str, *, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
