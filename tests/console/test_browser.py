"""The console in real Chromium against a real server: sign in, open a ticket, reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import make_agent, unique
from tests.console.conftest import LiveServer, open_ticket
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest
from walletdesk.db import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.mark.browser
async def test_sign_in_open_a_ticket_and_reply(
    live_server: LiveServer, db: Database, browser: Browser, test_output_dir: Path
) -> None:
    agent = await make_agent(db, "agent", 1, locale="zh-CN")
    customer = f"{unique('wang')}@example.com"
    ticket = await open_ticket(
        db,
        subject="转账显示成功但对方未收到",
        text="我昨天给朋友转了 500 元，对方说没收到。",
        email=customer,
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(f"{live_server.url}/console/")
    await expect(page).to_have_url(f"{live_server.url}/console/login?next=/console/")
    await page.fill("input[name=email]", agent.agent.email)
    await page.fill("input[name=password]", agent.password)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("收件箱")
    # A new ticket appears by itself while the agent has not touched the filters.
    await expect(page.locator("body[data-live=on]")).to_have_count(1)
    await open_ticket(db, subject="实时出现的新工单")
    await expect(page.locator("#ticket-list")).to_contain_text("实时出现的新工单", timeout=10_000)
    await page.screenshot(path=str(test_output_dir / "console-inbox.png"))

    await page.click(f"a[href='/console/tickets/{ticket.ticket_number}'] >> nth=0")
    await expect(page.locator("h1")).to_have_text("转账显示成功但对方未收到")
    await page.fill("textarea[name=body]", "您好，我们已为您查询到账情况，请稍候。")
    await page.click("#reply-form button[type=submit]")

    reply = page.locator("#conversation .msg-agent").last
    await expect(reply).to_contain_text("您好，我们已为您查询到账情况，请稍候。")
    await expect(page.locator(".flash-ok")).to_have_text("回复已发送。")
    await page.screenshot(path=str(test_output_dir / "console-ticket.png"), full_page=True)
    # The customer writes again: the open page offers a refresh instead of moving under them.
    await ingest(
        db,
        InboundMessage(
            channel="webchat",
            external_id=f"again-{ticket.ticket_number}",
            sender=SenderIdentity("email", customer),
            text=f"{ticket.ticket_number} 还没到账",
        ),
    )
    await expect(page.locator("#live-badge")).to_have_text("此工单有更新 — 刷新", timeout=10_000)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(test_output_dir / "console-ticket-phone.png"))
    await context.close()
    assert problems == []
