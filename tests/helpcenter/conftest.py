"""Help-center fixtures: articles made through the service, a lexical-only search index
(the semantic stage has its own test, which turns it on explicitly)."""

from __future__ import annotations

import os

from tests.conftest import unique
from walletdesk.core.actors import SYSTEM
from walletdesk.db import Database
from walletdesk.helpcenter.schemas import ArticleIn
from walletdesk.helpcenter.service import save_article

# Nodes built by these tests rank lexically, so expectations do not depend on the model.
os.environ.setdefault("WALLETDESK_HELPCENTER_SEMANTIC", "0")
# Tests send many searches from one address; the rate-limit test sets its own limiter.
os.environ.setdefault("WALLETDESK_HELPCENTER_RATE_PER_MINUTE", "0")


async def make_article(
    db: Database,
    *,
    locale: str = "en",
    title: str | None = None,
    body: str = "Body text.",
    category: str | None = None,
    keywords: list[str] | None = None,
    questions: list[str] | None = None,
    status: str = "published",
    slug: str | None = None,
    translation_group: str | None = None,
) -> ArticleIn:
    data = ArticleIn(
        slug=slug or unique("art-").replace("_", "-"),
        locale=locale,
        title=title or unique("Article "),
        body=body,
        category=category or unique("Category "),
        keywords=keywords or [],
        questions=questions or [],
        status=status,  # type: ignore[arg-type]
        translation_group=translation_group,
    )
    async with db.transaction() as session:
        await save_article(session, SYSTEM, data)
    return data
