"""The node's index follows the database: new, changed and unpublished articles show in
search at once, and another node (another process) rebuilds when the version moves."""

from __future__ import annotations

from tests.conftest import unique
from tests.helpcenter.conftest import make_article
from walletdesk.core.actors import SYSTEM
from walletdesk.db import Database
from walletdesk.helpcenter.models import ArticleStatus
from walletdesk.helpcenter.search.holder import SearchService, search_service
from walletdesk.helpcenter.service import set_article_status
from walletdesk.runtime import Runtime


def word(prefix: str = "zq") -> str:
    """A made-up word; different prefixes keep words beyond typo distance of each other."""
    return prefix + "".join(chr(ord("a") + int(d)) for d in unique("").replace("-", "")) + "x"


async def test_changes_show_in_search_at_once(runtime: Runtime) -> None:
    service = search_service(runtime.db)
    old, new = word("zqzq"), word("vwvw")
    article = await make_article(runtime.db, title=f"The {old} article")
    assert [h.slug for h in await service.search(old, "en")] == [article.slug]
    await make_article(runtime.db, slug=article.slug, title=f"The {new} article",
                       category=article.category)  # fmt: skip
    assert await service.search(old, "en") == []
    assert [h.slug for h in await service.search(new, "en")] == [article.slug]
    async with runtime.db.transaction() as session:
        await set_article_status(session, SYSTEM, "en", article.slug, ArticleStatus.DRAFT)
    assert await service.search(new, "en") == []


async def test_another_node_rebuilds_when_the_version_moves(runtime: Runtime) -> None:
    other_node = Database(runtime.db.url)
    try:
        remote = SearchService(other_node, semantic=False)
        before = (await remote.engine(), remote.version)
        marker = word()
        await make_article(runtime.db, title=f"{marker} from the first node")
        # The other node checks the shared version (at most once a second, or at once
        # after a change it hears about); either way its next search sees the article.
        remote._checked = 0.0
        hits = await remote.search(marker, "en")
        assert [h.title for h in hits] == [f"{marker} from the first node"]
        assert remote.version > before[1]
        # Without a change, the engine is reused rather than rebuilt.
        remote._checked = 0.0
        assert await remote.engine() is await remote.engine()
    finally:
        await other_node.dispose()
