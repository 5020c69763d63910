"""The one suggestion function every channel uses to deflect a question: the live-chat
widget as the customer types, the email acknowledgement ("these articles may already answer
your question"), later the social and phone channels."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from walletdesk.db import Database
from walletdesk.helpcenter.search.engine import Hit
from walletdesk.helpcenter.search.holder import search_service

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SUGGEST_CHARS = 500


@dataclass(frozen=True, slots=True)
class Suggestions:
    suggestion_id: str
    locale: str
    hits: list[Hit]


def guess_locale(text: str) -> str:
    """zh-CN when the text has any Chinese character, else en."""
    return "zh-CN" if _CJK.search(text) else "en"


def article_path(locale: str, slug: str) -> str:
    return f"/help/{locale}/articles/{slug}"


async def suggest_articles(
    db: Database, text: str, locale: str | None = None, limit: int = 3
) -> Suggestions:
    """Up to `limit` published articles for a customer's message (its first 500 characters).

    The returned id identifies this set of suggestions: report what became of it with
    `reader_signals.record_deflection` (shown, opened, resolved) so the deflection rate is
    measured.
    """
    text = text[:SUGGEST_CHARS]
    chosen = locale or guess_locale(text)
    hits = await search_service(db).search(text, chosen, limit) if text.strip() else []
    return Suggestions(uuid.uuid4().hex, chosen, hits)
