"""Help-center suggestions while the customer types, and what the customer did with them.

The widget asks GET /webchat/api/suggestions?site=…&q=…&locale=… as the customer types
(debounced) and shows what comes back above the message box. The provider is the help
center's suggestion function, the one every channel uses; `set_provider` swaps it (tests).

Before a chat starts, the widget reports through POST /webchat/api/deflections whether the
suggestions were shown, opened, solved the question or were passed over for a chat; the
help center turns those into the deflection rate (docs/helpcenter.md).
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from walletdesk.core.errors import InvalidInput
from walletdesk.helpcenter.models import DeflectionOutcome
from walletdesk.helpcenter.schemas import SLUG_PATTERN, SUGGESTION_ID_PATTERN, DeflectionIn

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 5
CHANNEL = "webchat"
MAX_REPORT_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Suggestion:
    title: str
    url: str
    snippet: str = ""
    # A help-center article's key; empty for links a custom provider found elsewhere.
    slug: str = ""
    locale: str = ""


@dataclass(frozen=True, slots=True)
class Offer:
    """One set of suggestions and the id the widget reports its outcome under."""

    suggestion_id: str
    suggestions: list[Suggestion] = field(default_factory=list)


Provider = Callable[["Runtime", str, str, str], Awaitable["Offer | list[Suggestion]"]]


async def help_center_articles(runtime: Runtime, site_key: str, query: str, locale: str) -> Offer:
    from walletdesk.helpcenter.suggest import article_path, suggest_articles

    found = await suggest_articles(runtime.db, query, locale or None, limit=MAX_SUGGESTIONS)
    # The widget runs on the wallet's own site: links must name this desk's address.
    base = runtime.settings.base_url.rstrip("/")
    return Offer(
        found.suggestion_id,
        [
            Suggestion(
                hit.title,
                base + article_path(found.locale, hit.slug),
                _plain(hit.snippet),
                hit.slug,
                found.locale,
            )
            for hit in found.hits
        ],
    )


def _plain(snippet_html: str) -> str:
    """The search snippet without its <mark> highlighting, as text."""
    return html.unescape(re.sub(r"</?mark>", "", snippet_html))


_provider: Provider | None = help_center_articles


def set_provider(provider: Provider | None) -> None:
    global _provider
    _provider = provider


def _nothing() -> dict[str, Any]:
    return {"suggestion_id": None, "suggestions": []}


async def suggest(runtime: Runtime, site_key: str, query: str, locale: str) -> dict[str, Any]:
    """`{"suggestion_id", "suggestions": [{"title", "url", "snippet", "slug", "locale"}]}`;
    no id when there is nothing to suggest."""
    if _provider is None or len(query.strip()) < 2:
        return _nothing()
    try:
        found = await _provider(runtime, site_key, query.strip()[:200], locale)
    except Exception:  # suggestions are a convenience: never an error for the customer
        log.exception("help-center suggestions failed")
        return _nothing()
    # A provider that only returns links still gets an id, so the widget can report on them.
    offer = found if isinstance(found, Offer) else Offer(uuid.uuid4().hex, list(found))
    shown = [
        asdict(s)
        for s in offer.suggestions[:MAX_SUGGESTIONS]
        if s.url.startswith(("https://", "http://"))
    ]
    return {"suggestion_id": offer.suggestion_id if shown else None, "suggestions": shown}


class WidgetReport(BaseModel):
    """What the widget sends; the channel is this one, whatever the page claims."""

    model_config = ConfigDict(extra="forbid")

    suggestion_id: str = Field(pattern=SUGGESTION_ID_PATTERN)
    outcome: DeflectionOutcome
    locale: str = Field(max_length=10)
    slug: str | None = Field(default=None, max_length=120, pattern=SLUG_PATTERN)


def parse_report(raw: bytes) -> DeflectionIn:
    """The widget's report as the help center records it; InvalidInput says what is wrong."""
    try:
        report = WidgetReport.model_validate_json(raw)
        return DeflectionIn(channel=CHANNEL, **report.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidInput(where, str(first.get("msg", "invalid"))) from None


async def record_report(runtime: Runtime, request: Request) -> None:
    """Read (at most MAX_REPORT_BYTES), check and record one report from the widget."""
    from walletdesk.helpcenter.reader_signals import record_deflection

    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_REPORT_BYTES:
            raise InvalidInput("body", f"at most {MAX_REPORT_BYTES} bytes")
    data = parse_report(raw)
    async with runtime.db.transaction() as session:
        await record_deflection(session, data)
