"""The widget's suggestions come from the help center's one suggestion function."""

from __future__ import annotations

from walletdesk.channels.webchat.suggestions import suggest
from walletdesk.helpcenter.transfer import seed_default_articles
from walletdesk.runtime import Runtime


async def test_help_center_articles_are_suggested_as_plain_links(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        await seed_default_articles(session)
    runtime.settings.base_url = "https://desk.example"
    found = await suggest(runtime, "ws_any", "我的账户被冻结了怎么办", "zh-CN")
    assert found, "a frozen-account question must find the shipped article"
    first = found[0]
    assert first["url"].startswith("https://desk.example/help/zh-CN/articles/")
    assert "<mark>" not in first["snippet"]
    assert await suggest(runtime, "ws_any", "x", "zh-CN") == []  # too short to search
