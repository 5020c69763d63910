"""Help-center suggestions while the customer types.

The widget asks GET /webchat/api/suggestions?site=…&q=…&locale=… as the customer types
(debounced) and shows what comes back above the message box. The provider is the help
center's suggestion function, the one every channel uses; `set_provider` swaps it (tests).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 5


@dataclass(frozen=True, slots=True)
class Suggestion:
    title: str
    url: str
    snippet: str = ""


Provider = Callable[["Runtime", str, str, str], Awaitable[list[Suggestion]]]


async def help_center_articles(
    runtime: Runtime, site_key: str, query: str, locale: str
) -> list[Suggestion]:
    from walletdesk.helpcenter.suggest import article_path, suggest_articles

    found = await suggest_articles(runtime.db, query, locale or None, limit=MAX_SUGGESTIONS)
    # The widget runs on the wallet's own site: links must name this desk's address.
    base = runtime.settings.base_url.rstrip("/")
    return [
        Suggestion(hit.title, base + article_path(found.locale, hit.slug), _plain(hit.snippet))
        for hit in found.hits
    ]


def _plain(snippet_html: str) -> str:
    """The search snippet without its <mark> highlighting, as text."""
    return html.unescape(re.sub(r"</?mark>", "", snippet_html))


_provider: Provider | None = help_center_articles


def set_provider(provider: Provider | None) -> None:
    global _provider
    _provider = provider


async def suggest(runtime: Runtime, site_key: str, query: str, locale: str) -> list[dict[str, Any]]:
    if _provider is None or len(query.strip()) < 2:
        return []
    try:
        found = await _provider(runtime, site_key, query.strip()[:200], locale)
    except Exception:  # suggestions are a convenience: never an error for the customer
        log.exception("help-center suggestions failed")
        return []
    return [asdict(s) for s in found[:MAX_SUGGESTIONS] if s.url.startswith(("https://", "http://"))]
