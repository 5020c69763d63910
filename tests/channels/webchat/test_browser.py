"""The widget on a wallet's page and the agent's chat panel, in real Chromium.

The host page is served from another origin than WalletDesk, with hostile CSS, like a
real wallet site; the agent signs in through the console's login form.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from playwright.async_api import (
    Browser,
    Page,
    Route,
    WebSocketRoute,
    async_playwright,
    expect,
)
from sqlalchemy import select

from tests.channels.webchat.conftest import ChatServer, make_site, online_agent
from tests.conftest import make_agent
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.tickets.models import Message, Ticket
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
    # Away, an agent cannot take chats: the panel says why in the agent's language.
    await agent.select_option(".wdc-presence select", "away")
    await agent.click(".wdc-accept")
    await expect(agent.locator(".wdc-error")).to_have_text("请先把状态设为“在线”再接入对话")
    await agent.select_option(".wdc-presence select", "online")
    await expect(waiting).to_have_count(1)
    await waiting.click()
    await expect(agent.locator(".wdc-error")).to_be_hidden()  # gone with a new choice
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


@pytest.mark.browser
async def test_a_waiting_customer_left_alone_stays_in_their_chat(
    chat: ChatServer,
    db: Database,
    browser: Browser,
    wallet_site: tuple[FastAPI, str],
    test_output_dir: Path,
) -> None:
    """The last agent goes away while the customer waits: leave-a-message keeps the chat."""
    host_app, host_url = wallet_site
    site = await make_site(db, origins=(host_url,))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return HOST_PAGE.format(desk=chat.url, site=site.key)

    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    problems: list[str] = []
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()
    watch(page, problems)
    calls: list[str] = []
    page.on("request", lambda request: calls.append(request.url))
    await page.goto(host_url)
    widget = page.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    composer = widget.locator(".wd-input")
    await expect(composer).to_be_visible()
    await composer.fill("提现三天了还没到账")
    await composer.press("Enter")
    ticket = widget.locator(".wd-ticket")
    await expect(ticket).to_contain_text("工单号")
    number = (await ticket.text_content() or "").split()[1]
    waiting = await agent.expect("chat_waiting")
    pid = waiting["chat"]["conversation"]

    # The only agent goes offline: the widget says so, and offers to leave a message
    # on this chat (its ticket number, no name asked: the chat keeps an address).
    await agent.send(type="presence", presence="offline")
    offline = widget.locator(".wd-offline")
    await expect(offline).to_be_visible()
    await expect(composer).to_be_hidden()
    await expect(offline.locator(".wd-offline-intro")).to_contain_text(number)
    await expect(offline.locator("input[name=name]")).to_be_hidden()
    await offline.locator("button[type=submit]").click()
    await expect(offline.locator(".wd-offline-result")).to_have_text("请填写邮箱或手机号")
    await offline.locator("input[name=email]").fill("wang@example.com")
    await offline.locator("textarea[name=message]").fill("请用邮件告诉我处理结果")
    await offline.locator("button[type=submit]").click()
    result = offline.locator(".wd-offline-result")
    await expect(result).to_have_text(f"已收到，您的留言已加入工单 {number}。我们会尽快回复。")
    # The message is a chat message of this conversation, shown and stored once.
    await expect(widget.locator(".wd-customer .wd-bubble").last).to_have_text(
        "请用邮件告诉我处理结果"
    )
    await expect(widget.locator(".wd-customer .wd-meta").last).to_have_text("已发送")
    # With the address kept, a further message needs no address again.
    await expect(offline.locator("input[name=email]")).to_be_hidden()
    await offline.locator("textarea[name=message]").fill("订单号 A1002")
    await offline.locator("button[type=submit]").click()
    await expect(widget.locator(".wd-customer .wd-bubble").last).to_have_text("订单号 A1002")
    await expect(widget.locator(".wd-customer .wd-meta").last).to_have_text("已发送")
    await page.screenshot(path=str(test_output_dir / "webchat-widget-left-alone.png"))

    async with db.transaction() as session:
        tickets = list(
            await session.scalars(
                select(Ticket.number).where(Ticket.channel == "webchat", Ticket.thread_key == pid)
            )
        )
        texts = list(
            await session.scalars(
                select(Message.body_text)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Ticket.number == number)
                .order_by(Message.id)
            )
        )
        addresses = list(
            await session.scalars(
                select(ContactIdentity.value)
                .join(Ticket, Ticket.contact_id == ContactIdentity.contact_id)
                .where(Ticket.number == number, ContactIdentity.kind == "email")
            )
        )
    assert tickets == [number]
    assert texts == ["提现三天了还没到账", "请用邮件告诉我处理结果", "订单号 A1002"]
    assert addresses == ["wang@example.com"]
    # No second, unrelated ticket: the leave-a-message endpoint was never called.
    assert not [url for url in calls if "/webchat/api/offline" in url]

    # The agent comes back: the chat's composer returns.
    await agent.send(type="presence", presence="online")
    await expect(composer).to_be_visible()
    await expect(offline).to_be_hidden()
    await agent.close()
    await context.close()
    assert problems == []


@pytest.mark.browser
async def test_the_widget_stops_resending_a_message_the_server_cannot_store(
    browser: Browser, wallet_site: tuple[FastAPI, str]
) -> None:
    """`unavailable` is retried a few times, further apart, then the message shows as not
    sent (a stand-in socket answers `unavailable` to everything; the page's clock is fast)."""
    host_app, host_url = wallet_site

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        # The widget script is served by the desk; a stand-in desk origin is enough here.
        return HOST_PAGE.format(desk=host_url, site="ws_stand_in")

    @host_app.get("/webchat/widget.js")
    async def widget_script() -> Response:
        return Response(WIDGET_JS.read_bytes(), media_type="text/javascript")

    sent: list[dict[str, Any]] = []

    def stand_in(socket: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame["type"] == "hello":
                socket.send(json.dumps(STAND_IN_WELCOME))
            elif frame["type"] == "message":
                sent.append(frame)
                socket.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "unavailable",
                            "message": "the server could not store this now; resend it",
                            "fatal": False,
                            "ref": frame["id"],
                            "retry_after": 2.0,
                        }
                    )
                )

        socket.on_message(on_message)

    context = await browser.new_context()
    page = await context.new_page()
    await page.clock.install()
    await page.route_web_socket(re.compile(r".*/webchat/ws\?.*"), stand_in)
    await page.route(re.compile(r".*/webchat/static/widget\.css.*"), _empty_css)
    await page.goto(host_url)
    widget = page.locator("#walletdesk-chat")
    await widget.locator(".wd-launcher").click()
    await widget.locator(".wd-input").fill("数据库出故障时发的消息")
    await widget.locator(".wd-input").press("Enter")
    await expect(widget.locator(".wd-customer .wd-meta")).to_have_text("发送中…")
    # Five resends after the first answer, 2 s × 1…5 apart (30 s of the page's time).
    meta = widget.locator(".wd-customer .wd-meta")
    for _ in range(120):
        await page.clock.run_for(1000)
        if await meta.text_content() == "发送失败":
            break
    await expect(meta).to_have_text("发送失败")
    await expect(widget.locator(".wd-system .wd-bubble").last).to_contain_text("已停止重试")
    assert len(sent) == 6
    # Then no more, however long the page stays open.
    await page.clock.run_for(600_000)
    await page.wait_for_timeout(300)
    assert len(sent) == 6
    assert {frame["id"] for frame in sent} == {sent[0]["id"]}
    await context.close()


WIDGET_JS = Path(__file__).parents[3] / "src/walletdesk/channels/webchat/static/widget.js"
STAND_IN_WELCOME = {
    "type": "welcome",
    "conversation": "c_stand_in",
    "token": "t",
    "verified": False,
    "status": "new",
    "ticket": None,
    "agent": None,
    "rating": None,
    "follow_up": False,
    "answer_by": None,
    "customer_read_id": 0,
    "agent_read_id": 0,
    "history": [],
    "more": False,
    "online": True,
    "open": True,
    "queue": None,
    "limits": {"max_text_chars": 4000, "max_attachment_bytes": 10485760, "attachment_types": []},
}


async def _empty_css(route: Route) -> None:
    await route.fulfill(status=200, content_type="text/css", body="")
