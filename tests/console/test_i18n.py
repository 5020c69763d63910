from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import make_agent
from tests.console.conftest import open_ticket, sign_in
from walletdesk.console import i18n
from walletdesk.console.i18n import Lang, from_accept_language
from walletdesk.db import Database

CONSOLE = Path(i18n.__file__).parent


def test_every_console_text_has_a_chinese_translation() -> None:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    used = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            CONSOLE, method_map, options, keywords={"_": None, "gettext": None, "N_": None}
        )
    }
    assert len(used) > 150
    with (CONSOLE / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    untranslated = sorted(
        str(m)
        for m in used
        if not (catalog.get(m) and catalog.get(m).string)  # type: ignore[union-attr]
    )
    assert untranslated == []


def test_language_choice_and_dates() -> None:
    assert from_accept_language("en-GB,en;q=0.9,zh-CN;q=0.8") == "en"
    assert from_accept_language("fr-FR, zh-TW;q=0.7, en;q=0.5") == "zh-CN"
    assert from_accept_language("de") is None
    moment = datetime(2025, 1, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 February in Shanghai
    assert Lang("zh-CN").stamp(moment) == "2025年2月1日 00:30:00"
    assert Lang("en").stamp(moment) == "Feb 1, 2025, 12:30:00\u202fAM"
    now = datetime(2025, 1, 31, 17, 0, tzinfo=UTC)
    assert Lang("zh-CN").when(moment, now) == "30分钟前"
    assert Lang("en").when(moment, now) == "30 minutes ago"
    assert Lang("en").when(now - timedelta(days=3), now) == "1/29/25, 1:00\u202fAM"
    assert Lang("zh-CN").gettext("Escalate to L%(tier)s", tier=2) == "升级到 L2"


async def test_login_page_language(client: httpx.AsyncClient) -> None:
    assert "登录" in (await client.get("/console/login")).text  # zh-CN by default
    english = await client.get("/console/login", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    chosen = await client.get("/console/login?lang=zh-CN", headers={"Accept-Language": "en"})
    assert "客服工作台" in chosen.text


async def test_console_speaks_the_agents_language(client: httpx.AsyncClient, db: Database) -> None:
    ticket = await open_ticket(db)
    chinese = await make_agent(db, locale="zh-CN")
    await sign_in(client, chinese)
    inbox = await client.get("/console/")
    assert "收件箱" in inbox.text and "未分配" in inbox.text and "新建" in inbox.text
    page = await client.get(f"/console/tickets/{ticket.ticket_number}")
    assert "公开回复" in page.text and "网页聊天" in page.text and "L1 · 一线" in page.text

    client.cookies.clear()
    await sign_in(client, await make_agent(db, locale="en"))
    inbox = await client.get("/console/")
    assert "Inbox" in inbox.text and "Unassigned" in inbox.text and "收件箱" not in inbox.text
    page = await client.get(f"/console/tickets/{ticket.ticket_number}")
    assert "Public reply" in page.text and "Web chat" in page.text
