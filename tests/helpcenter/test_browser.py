"""A reader in real Chromium: searches the help center, opens an article, answers
"Was this helpful?" and switches language."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import async_playwright

from walletdesk.app import create_app
from walletdesk.helpcenter.transfer import seed_default_articles
from walletdesk.runtime import Runtime

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.browser
async def test_search_then_read_an_article(runtime: Runtime, test_output_dir: Path) -> None:
    async with runtime.db.transaction() as session:
        await seed_default_articles(session)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"http://127.0.0.1:{port}/help/zh-CN/")
            assert await page.title() == "WalletDesk 钱包 帮助中心"

            # A Hong Kong customer types Traditional characters.
            await page.fill("input[name=q]", "帳號被凍結了怎麼辦")
            await page.press("input[name=q]", "Enter")
            await page.wait_for_selector("ol.results li")
            first = page.locator("ol.results li a").first
            assert "冻结" in await first.inner_text()
            assert await page.locator("ol.results mark").count() > 0
            await page.screenshot(path=str(test_output_dir / "helpcenter-search.png"))

            await first.click()
            await page.wait_for_selector("article.article h1")
            assert "冻结" in await page.locator("article.article h1").inner_text()
            await page.get_by_role("button", name="👍 有帮助").click()
            await page.wait_for_selector("p.thanks")
            assert await page.locator("p.thanks").inner_text() == "谢谢你的反馈！"

            await page.get_by_role("link", name="English").click()
            await page.wait_for_selector("article.article h1")
            assert "frozen" in (await page.locator("article.article h1").inner_text()).lower()
            await page.screenshot(path=str(test_output_dir / "helpcenter-article-en.png"))
            await browser.close()
    finally:
        server.should_exit = True
        await serving
