"""The widget in real Chromium: a signed-in wallet user, what it fetches, its errors, follow-ups.

Uses the host-page stand-in and browser of test_browser.py. Every request the host page
makes is recorded: the widget may talk to the desk and the page's own origin, nobody else.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, Page, expect

from tests.channels.webchat.conftest import ChatServer, make_site
from tests.channels.webchat.test_browser import browser, wallet_site  # noqa: F401
from tests.channels.webchat.test_offline_and_files import png
from tests.conftest import AgentLogin, make_agent
from walletdesk.channels.webchat.identity import identity_signature
from walletdesk.db import Database

SIGNED_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>某某钱包</title>
</head><body><h1>我的钱包</h1>
<script src="{desk}/webchat/widget.js" data-site="{site}" data-locale="zh-CN"
  data-user-id="{user}" data-user-expires="{expires}" data-user-signature="{signature}"
  data-user-name="王小明" defer></script>
</body></html>"""

ANONYMOUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wallet</title></head><body>
<script src="{desk}/webchat/widget.js" data-site="{site}" data-locale="{locale}" defer></script>
</body></html>"""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def record_requests(page: Page, seen: list[str]) -> None:
    page.on("request", lambda request: seen.append(request.url))
    page.on("websocket", lambda socket: seen.append(socket.url))


async def sign_in(page: Page, chat: ChatServer, login: AgentLogin, path: str) -> None:
    await page.goto(f"{chat.url}{path}")
    await page.fill("input[name=email]", login.agent.email)
    await page.fill("input[name=password]", login.password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{chat.url}{path}")


@pytest.mark.browser
async def test_signed_user_is_verified_and_the_page_talks_to_nobody_else(
    chat: ChatServer,
    db: Database,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
    test_output_dir: Path,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))
    user = f"u_{time.time_ns()}"
    expires = int(time.time()) + 3600

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return SIGNED_PAGE.format(
            desk=chat.url,
            site=site.key,
            user=user,
            expires=expires,
            signature=identity_signature(site.secret, user, expires),
        )

    login = await make_agent(db, "agent", 1, locale="zh-CN")
    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent = await agent_context.new_page()
    await sign_in(agent, chat, login, "/console/chat/")
    await agent.select_option(".wdc-presence select", "online")
    await expect(agent.locator(".wdc-presence select")).to_have_value("online")

    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    customer = await context.new_page()
    seen: list[str] = []
    record_requests(customer, seen)
    await customer.goto(host_url)
    widget = customer.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    composer = widget.locator(".wd-input")
    await expect(composer).to_be_visible()
    # The picker offers what the server accepts, from the welcome's limits.
    await expect(widget.locator("input[type=file]")).to_have_attribute(
        "accept", "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain"
    )
    await composer.fill("已登录用户的提问：余额不对")
    await composer.press("Enter")
    await expect(widget.locator(".wd-ticket")).to_contain_text("工单号")

    # The agent sees the wallet user as verified, in the queue and in the chat's head.
    waiting = agent.locator(".wdc-waiting .wdc-item-button").filter(has_text="余额不对")
    await expect(waiting.locator(".wdc-verified")).to_have_text("已验证")
    await waiting.click()
    await agent.click(".wdc-accept")
    head_badge = agent.locator(".wdc-head .wdc-verified")
    await expect(head_badge).to_be_visible()
    await expect(head_badge).to_have_text("已验证")
    await agent.screenshot(path=str(test_output_dir / "webchat-agent-verified.png"))

    # A picture both ways of the file path, and a disguised file refused in Chinese.
    await widget.locator("input[type=file]").set_input_files(
        files=[{"name": "截图.png", "mimeType": "image/png", "buffer": png()}]
    )
    await expect(widget.locator(".wd-customer img.wd-image")).to_have_count(1)
    await widget.locator("input[type=file]").set_input_files(
        files=[{"name": "假图片.png", "mimeType": "image/png", "buffer": b"<html></html>"}]
    )
    note = widget.locator(".wd-system .wd-bubble").last
    await expect(note).to_contain_text("无法发送此文件")
    assert "declared" not in (await note.text_content() or "")

    reply = agent.locator(".wdc-input")
    await reply.fill("已为您核对余额")
    await reply.press("Enter")
    await expect(widget.locator(".wd-agent .wd-bubble").last).to_have_text("已为您核对余额")

    allowed = {chat.url, host_url}
    foreign = [url for url in seen if origin_of(url) not in allowed]
    assert seen and foreign == [], foreign
    # Each kind of call went out and was recorded: the check above covered them.
    paths = {urlsplit(url).path for url in seen}
    assert {"/webchat/widget.js", "/webchat/ws", "/webchat/api/uploads"} <= paths
    assert any(p.startswith("/webchat/api/attachments/") for p in paths)
    await context.close()
    await agent_context.close()


@pytest.mark.browser
async def test_console_badge_counts_a_chat_that_arrives(
    chat: ChatServer,
    db: Database,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return ANONYMOUS_PAGE.format(desk=chat.url, site=site.key, locale="zh-CN")

    login = await make_agent(db, "agent", 1, locale="zh-CN")
    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent = await agent_context.new_page()
    # The inbox, not the chat workspace: only the layout's badge listens there.
    async with agent.expect_websocket(lambda ws: ws.url.endswith("/console/chat/ws")) as opened:
        await sign_in(agent, chat, login, "/console/")
    socket = await opened.value
    hello = await socket.wait_for_event(
        "framereceived", lambda f: '"type":"hello"' in str(f).replace(" ", "")
    )
    before = len(json.loads(hello)["waiting"])
    badge = agent.locator("[data-walletdesk-chat-badge]")
    if before == 0:
        await expect(badge).to_be_hidden()

    customer_context = await browser.new_context()
    customer = await customer_context.new_page()
    await customer.goto(host_url)
    widget = customer.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    await widget.locator(".wd-input").fill("有新的对话吗")
    await widget.locator(".wd-input").press("Enter")
    await expect(widget.locator(".wd-ticket")).to_contain_text("工单号")

    await expect(badge).to_be_visible()
    await expect(badge).to_have_text(f"{before + 1} 个待接入对话")
    await customer_context.close()
    await agent_context.close()


@pytest.mark.browser
async def test_follow_up_asks_an_anonymous_visitor_for_an_address(
    chat: ChatServer,
    db: Database,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
    test_output_dir: Path,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return ANONYMOUS_PAGE.format(desk=chat.url, site=site.key, locale="en")

    login = await make_agent(db, "agent", 1, locale="en")
    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent = await agent_context.new_page()
    await sign_in(agent, chat, login, "/console/chat/")
    await agent.select_option(".wdc-presence select", "online")
    await expect(agent.locator(".wdc-presence select")).to_have_value("online")

    context = await browser.new_context()
    customer = await context.new_page()
    await customer.goto(host_url)
    widget = customer.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    await widget.locator(".wd-input").fill("Please check my statement, follow-up case")
    await widget.locator(".wd-input").press("Enter")
    await expect(widget.locator(".wd-ticket")).to_contain_text("Ticket")

    waiting = agent.locator(".wdc-waiting .wdc-item-button").filter(has_text="follow-up case")
    await waiting.click()
    await agent.click(".wdc-accept")
    await agent.click(".wdc-follow-up")

    # No address yet: no promise of an email, a question instead.
    form = widget.locator(".wd-contact")
    await expect(form).to_be_visible()
    await expect(form.locator(".wd-contact-intro")).to_contain_text("Leave an email or mobile")
    assert "by email" not in (await widget.locator(".wd-rating .wd-ended").text_content() or "")
    await form.locator("input[name=email]").fill("not an email")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".wd-contact-result")).to_have_text(
        "Please enter a valid email address"
    )
    await form.locator("input[name=email]").fill("li.lei@example.com")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".wd-contact-result")).to_have_text(
        "Thank you, the result will come to your email."
    )
    await customer.screenshot(path=str(test_output_dir / "webchat-widget-follow-up.png"))

    # After a reload the widget knows the answer will come by email.
    await customer.reload()
    await expect(widget.locator(".wd-rating .wd-ended")).to_contain_text("let you know by email")
    await expect(widget.locator(".wd-contact")).to_be_hidden()
    await context.close()
    await agent_context.close()


NO_LOCALE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Wallet</title></head><body>
<script src="{desk}/webchat/widget.js" data-site="{site}" {attribute} defer></script>
</body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize(
    ("attribute", "languages", "title"),
    [
        # Without data-locale: the visitor's first preferred language that is zh or en.
        ("", ["en-US", "zh-CN"], "Live chat"),
        ("", ["zh-TW", "en-US"], "在线客服"),
        ("", ["fr-FR", "en-GB"], "Live chat"),
        # None of them: zh-CN, the product's first language.
        ("", ["fr-FR", "de-DE"], "在线客服"),
        # data-locale wins over the browser.
        ('data-locale="zh-CN"', ["en-US"], "在线客服"),
        ('data-locale="en"', ["zh-CN"], "Live chat"),
    ],
)
async def test_the_widget_language_without_and_with_data_locale(
    chat: ChatServer,
    db: Database,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
    attribute: str,
    languages: list[str],
    title: str,
) -> None:
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return NO_LOCALE_PAGE.format(desk=chat.url, site=site.key, attribute=attribute)

    context = await browser.new_context(locale=languages[0])
    # The browser's preference list, as a visitor's settings would give it.
    preferred = json.dumps(languages)
    await context.add_init_script(
        f"Object.defineProperty(navigator, 'languages', {{get: () => {preferred}}});"
    )
    page = await context.new_page()
    await page.goto(host_url)
    widget = page.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    await expect(widget.locator(".wd-title")).to_have_text(title)
    await context.close()
