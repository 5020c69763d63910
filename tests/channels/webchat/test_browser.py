"""The widget on a wallet's page and the agent's chat panel, in real Chromium.

The host page is served from another origin than WalletDesk, with hostile CSS, like a
real wallet site; the agent signs in through the console's login form.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.channels.webchat.conftest import ChatServer, make_site
from tests.conftest import make_agent
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
XSS = '<img src=x onerror="window.__pwned=1">'
HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>某某钱包</title>
<style>* {{ font-family: "Comic Sans MS" !important; }}
button {{ background: hotpink !important; border: 5px dashed lime !important; }}</style>
</head><body><h1>某某钱包 · 帮助</h1>
<script src="{desk}/webchat/widget.js" data-site="{site}" data-locale="zh-CN"
  data-color="#0b7a57" data-position="right" defer></script>
</body></html>"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def wallet_site() -> AsyncIterator[tuple[FastAPI, str]]:
    """A stand-in for the wallet's website, on its own origin."""
    app = FastAPI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def watch(page: Page, problems: list[str]) -> None:
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )


@pytest.mark.browser
async def test_customer_and_agent_chat_in_real_browsers(
    chat: ChatServer,
    db: Database,
    browser: Browser,
    wallet_site: tuple[FastAPI, str],
    test_output_dir: Path,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return HOST_PAGE.format(desk=chat.url, site=site.key)

    login = await make_agent(db, "agent", 1, locale="zh-CN")
    problems: list[str] = []

    # The agent signs in and goes online in the chat workspace.
    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent = await agent_context.new_page()
    watch(agent, problems)
    await agent.goto(f"{chat.url}/console/chat/")
    await agent.fill("input[name=email]", login.agent.email)
    await agent.fill("input[name=password]", login.password)
    await agent.click("button[type=submit]")
    await expect(agent).to_have_url(f"{chat.url}/console/chat/")
    await agent.select_option(".wdc-presence select", "online")
    await expect(agent.locator(".wdc-presence select")).to_have_value("online")

    # The customer opens the wallet's page on a phone and starts a chat.
    customer_context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    customer = await customer_context.new_page()
    watch(customer, problems)
    await customer.goto(host_url)
    launcher = customer.locator("#walletdesk-chat .wd-launcher")
    await expect(launcher).to_be_visible()
    # Isolation: the host page's hostile button style does not reach into the widget.
    background = await launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(11, 122, 87)"
    await launcher.click()
    composer = customer.locator("#walletdesk-chat .wd-input")
    await expect(composer).to_be_visible()
    await composer.fill("我的账户被冻结了，怎么办？")
    await composer.press("Enter")
    await composer.fill(XSS)
    await customer.locator("#walletdesk-chat .wd-send").click()
    ticket = customer.locator("#walletdesk-chat .wd-ticket")
    await expect(ticket).to_contain_text("工单号")
    await expect(ticket).to_contain_text("在任何渠道引用此号码即可")
    number = (await ticket.text_content() or "").split()[1]
    assert number.isdigit()
    await expect(customer.locator("#walletdesk-chat .wd-queue")).to_contain_text("您排在第")

    # The agent hears of it, accepts and answers.
    # Other tests' chats may be waiting too: pick this customer's.
    waiting = agent.locator(".wdc-waiting .wdc-item-button").filter(has_text="我的账户被冻结了")
    await expect(waiting).to_have_count(1)
    await waiting.click()
    await agent.click(".wdc-accept")
    log = agent.locator(".wdc-log")
    await expect(log.locator(".wdc-customer .wdc-body").last).to_have_text(XSS)
    assert await log.locator("img[src='x']").count() == 0
    await expect(agent.locator(".wdc-ticket-link")).to_contain_text(number)
    await expect(customer.locator("#walletdesk-chat .wd-status")).to_contain_text(login.agent.name)

    reply = agent.locator(".wdc-input")
    await reply.fill("您好，我来帮您查看冻结原因。")
    await expect(customer.locator("#walletdesk-chat .wd-typing")).to_be_visible()
    await reply.press("Enter")
    await reply.fill(XSS)
    await agent.click(".wdc-send")

    bubbles = customer.locator("#walletdesk-chat .wd-agent .wd-bubble")
    await expect(bubbles.first).to_have_text("您好，我来帮您查看冻结原因。")
    await expect(bubbles.last).to_have_text(XSS)
    assert await customer.locator("#walletdesk-chat .wd-log img").count() == 0
    # The customer's widget is open and visible: the agent sees the replies were read.
    await expect(log.locator(".wdc-agent .wdc-tick").last).to_have_text("已读")

    await customer.screenshot(path=str(test_output_dir / "webchat-widget-phone.png"))
    await agent.screenshot(path=str(test_output_dir / "webchat-agent-chat.png"))

    # The agent ends the chat; the customer rates it.
    await agent.click(".wdc-end")
    stars = customer.locator("#walletdesk-chat .wd-star")
    await expect(stars.nth(4)).to_be_visible()
    await stars.nth(4).click()
    await customer.locator("#walletdesk-chat .wd-comment").fill("回复很快")
    await customer.locator("#walletdesk-chat .wd-rating .wd-primary").click()
    await expect(customer.locator("#walletdesk-chat .wd-thanks")).to_be_visible()
    await expect(agent.locator(".wdc-rating")).to_have_text("客户评分：5 星")
    await customer.screenshot(path=str(test_output_dir / "webchat-widget-rating.png"))

    # The ticket's own chat view (what the console's ticket page embeds) shows the same.
    await agent.goto(f"{chat.url}/console/chat/tickets/{number}")
    embedded = agent.locator("[data-mode=ticket] .wdc-log")
    await expect(embedded.locator(".wdc-customer .wdc-body").first).to_have_text(
        "我的账户被冻结了，怎么办？"
    )
    assert await embedded.locator("img[src='x']").count() == 0
    await expect(agent.locator(".wdc-rating")).to_have_text("客户评分：5 星")

    for page in (customer, agent):
        assert await page.evaluate("window.__pwned") is None
    await customer_context.close()
    await agent_context.close()
    assert problems == []


@pytest.mark.browser
async def test_reload_keeps_the_conversation_and_offline_form(
    chat: ChatServer,
    db: Database,
    browser: Browser,
    wallet_site: tuple[FastAPI, str],
    test_output_dir: Path,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return HOST_PAGE.format(desk=chat.url, site=site.key).replace(
            'data-locale="zh-CN"', 'data-locale="en"'
        )

    problems: list[str] = []
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, problems)
    await page.goto(host_url)
    await page.locator("#walletdesk-chat .wd-launcher").click()
    # Nobody is online: the widget says so and offers to leave a message.
    offline = page.locator("#walletdesk-chat .wd-offline")
    await expect(offline).to_be_visible()
    await expect(offline).to_contain_text("No agent is online right now")
    await page.screenshot(path=str(test_output_dir / "webchat-widget-offline.png"))
    await offline.locator("input[name=name]").fill("Li Lei")
    await offline.locator("input[name=email]").fill("lilei@example.com")
    await offline.locator("textarea[name=message]").fill("My top-up failed at night.")
    await offline.locator("button[type=submit]").click()
    await expect(offline.locator(".wd-offline-result")).to_contain_text("We have your message")

    # An agent comes online: the widget switches to chat, and the chat survives a reload.
    login = await make_agent(db, "agent", 1)
    from tests.channels.webchat.conftest import online_agent

    agent, _ = await online_agent(chat, login)
    composer = page.locator("#walletdesk-chat .wd-input")
    await expect(composer).to_be_visible()
    await composer.fill("Is anyone there?")
    await composer.press("Enter")
    await expect(page.locator("#walletdesk-chat .wd-ticket")).to_contain_text(
        "quote it on any channel"
    )
    await page.reload()
    await expect(page.locator("#walletdesk-chat .wd-customer .wd-bubble")).to_have_text(
        "Is anyone there?"
    )
    await expect(page.locator("#walletdesk-chat .wd-ticket")).to_contain_text("Ticket")
    await page.screenshot(path=str(test_output_dir / "webchat-widget-desktop.png"))
    await agent.close()
    await context.close()
    assert problems == []
