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
    assert found["suggestions"], "a frozen-account question must find the shipped article"
    first = found["suggestions"][0]
    assert first["url"] == f"https://desk.example/help/zh-CN/articles/{first['slug']}"
    assert first["locale"] == "zh-CN"
    assert "<mark>" not in first["snippet"]
    # The set's id, which the widget reports the customer's choice under.
    assert len(found["suggestion_id"]) == 32
    again = await suggest(runtime, "ws_any", "我的账户被冻结了怎么办", "zh-CN")
    assert again["suggestion_id"] != found["suggestion_id"]
    nothing = await suggest(runtime, "ws_any", "x", "zh-CN")  # too short to search
    assert nothing == {"suggestion_id": None, "suggestions": []}
