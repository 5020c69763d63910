"""Help-center suggestions while the customer types: the extension point the help center fills.

The widget asks GET /webchat/api/suggestions?site=…&q=…&locale=… as the customer types
(debounced) and shows what comes back above the message box. Until a provider is set,
the answer is an empty list. The help-center module registers one at start-up:

    from walletdesk.channels.webchat.suggestions import Suggestion, set_provider

    async def articles(runtime, site_key, query, locale) -> list[Suggestion]: ...
    set_provider(articles)
"""

from __future__ import annotations

import logging
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

_provider: Provider | None = None


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
