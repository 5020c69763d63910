"""Deflection in real Chromium: a customer on a wallet's page types a question, is shown a
help article, and says it solved the question (in the widget, or on the article page it
opened); another question goes to an agent anyway. The report counts each, and a supervisor
reads it in the console."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, expect

from tests.channels.webchat.conftest import ChatServer, make_site, online_agent
from tests.channels.webchat.test_browser import HOST_PAGE, browser, wallet_site, watch  # noqa: F401 (fixtures)
from tests.conftest import make_agent
from tests.helpcenter.conftest import make_article
from tests.helpcenter.test_search_api import word
from walletdesk.db import Database, utcnow
from walletdesk.helpcenter import queries
from walletdesk.helpcenter.schemas import ChannelDeflection, DeflectionReport


async def webchat_report(
    db: Database, since: datetime, done: Callable[[ChannelDeflection], bool]
) -> DeflectionReport:
    """The report once the widget's reports (sent in the background) have arrived."""
    for _ in range(150):
        async with db.transaction() as session:
            report = await queries.deflection_report(session, since)
        rows = [c for c in report.channels if c.channel == "webchat"]
        if rows and done(rows[0]):
            break
        await asyncio.sleep(0.1)
    return report


@pytest.mark.browser
async def test_a_suggested_article_solves_the_question(
    chat: ChatServer,
    db: Database,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
    test_output_dir: Path,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))
    chat.runtime.settings.base_url = chat.url  # where article links point
    marker = word()
    article = await make_article(
        db,
        title=f"Why a {marker} top-up is on hold",
        body=f"A {marker} top-up waits for the bank's confirmation, at most two hours.",
    )

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        page = HOST_PAGE.format(desk=chat.url, site=site.key)
        return page.replace('data-locale="zh-CN"', 'data-locale="en"')

    agent, _ = await online_agent(chat, await make_agent(db, "agent", 1))
    start = utcnow()
    problems: list[str] = []
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, problems)
    await page.goto(host_url)
    await page.locator("#walletdesk-chat .wd-launcher").click()
    composer = page.locator("#walletdesk-chat .wd-input")
    offered = page.locator("#walletdesk-chat .wd-suggest-item").filter(has_text=marker)
    solved_button = offered.get_by_role("button", name=f"This solved it: {article.title}")

    # 1. The customer types, sees the article and says it solved the question.
    await composer.fill(f"my {marker} top-up has not arrived")
    await expect(solved_button).to_be_visible()
    link = offered.locator("a.wd-suggest-link")
    await expect(link).to_have_text(article.title)
    href = await link.get_attribute("href") or ""
    assert href.startswith(f"{chat.url}/help/en/articles/{article.slug}?s=")
    await page.screenshot(path=str(test_output_dir / "webchat-widget-suggestion.png"))
    await solved_button.click()
    await expect(page.locator("#walletdesk-chat .wd-system .wd-bubble")).to_have_text(
        "Glad that helped! If anything else comes up, just type it here."
    )
    await expect(page.locator("#walletdesk-chat .wd-suggest")).to_be_hidden()
    await expect(composer).to_have_value("")
    await expect(composer).to_be_focused()
    await page.screenshot(path=str(test_output_dir / "webchat-widget-solved.png"))
    report = await webchat_report(db, start, lambda c: c.resolved == 1)
    web = next(c for c in report.channels if c.channel == "webchat")
    assert (web.suggested, web.opened, web.resolved, web.not_resolved) == (1, 0, 1, 0)
    assert [(a.slug, a.resolved) for a in report.articles] == [(article.slug, 1)]

    # 2. Another question: the customer opens the article and answers on its page.
    await composer.fill(f"{marker} top-up on hold since this morning")
    await expect(solved_button).to_be_visible()
    async with context.expect_page() as opening:
        await offered.locator("a.wd-suggest-link").click()
    reader = await opening.value
    watch(reader, problems)
    await expect(reader.locator("h1")).to_have_text(article.title)
    await expect(reader.locator("#feedback")).to_contain_text(
        "Did this article solve your problem?"
    )
    await reader.get_by_role("button", name="Yes, this solved it").click()
    await expect(reader.locator(".thanks")).to_be_visible()
    await reader.close()
    report = await webchat_report(db, start, lambda c: c.resolved == 2)
    web = next(c for c in report.channels if c.channel == "webchat")
    assert (web.suggested, web.opened, web.resolved, web.not_resolved) == (2, 1, 2, 0)

    # 3. Later (a new page), a question the article does not answer goes to an agent.
    await page.reload()
    await composer.fill(f"{marker} top-up: the bank says it was refunded, where is it?")
    await expect(solved_button).to_be_visible()
    await composer.press("Enter")
    await expect(page.locator("#walletdesk-chat .wd-ticket")).to_contain_text("Ticket")
    # During a chat the articles are still offered, but there is no chat left to save.
    await composer.fill(f"and the {marker} top-up fee?")
    await expect(offered.locator("a.wd-suggest-link")).to_be_visible()
    await expect(offered.locator(".wd-solved")).to_have_count(0)
    report = await webchat_report(db, start, lambda c: c.not_resolved == 1)
    web = next(c for c in report.channels if c.channel == "webchat")
    assert (web.suggested, web.opened, web.resolved, web.not_resolved) == (3, 1, 2, 1)
    assert web.rate == round(2 / 3, 4)
    assert [(a.slug, a.opened, a.resolved) for a in report.articles] == [(article.slug, 1, 2)]
    await context.close()
    await agent.close()

    # The supervisor reads it in the console.
    supervisor = await make_agent(db, "supervisor", locale="zh-CN")
    console = await browser.new_page(viewport={"width": 1280, "height": 800})
    watch(console, problems)
    await console.goto(f"{chat.url}/console/help/articles")
    await console.fill("input[name=email]", supervisor.agent.email)
    await console.fill("input[name=password]", supervisor.password)
    await console.click("button[type=submit]")
    await console.get_by_role("link", name="自助解决报告").click()
    await expect(console.locator("h1")).to_have_text("自助解决")
    row = console.locator(f'tr[data-article="en/{article.slug}"]')
    await expect(row).to_contain_text(article.title)
    await expect(console.locator('tr[data-channel="webchat"]')).to_be_visible()
    await console.screenshot(path=str(test_output_dir / "console-deflection-report.png"))
    await console.close()
    assert problems == []
