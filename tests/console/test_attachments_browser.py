"""Files on the ticket page in real Chromium: thumbnails load under the console's CSP, and a
file chosen in the reply form is uploaded with the reply."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.attachments.test_attachments import tiny_png
from tests.conftest import make_agent, unique
from tests.console.conftest import LiveServer
from tests.console.test_browser import browser  # noqa: F401  (the Chromium fixture)
from walletdesk.core.channels import Attachment, InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest

DECODED_WIDTH = "img => img.decode().then(() => img.naturalWidth)"


@pytest.mark.browser
async def test_thumbnails_show_and_a_chosen_file_is_sent(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811
    test_output_dir: Path,
    tmp_path: Path,
) -> None:
    runtime = live_server.runtime
    agent = await make_agent(runtime.db, "agent", 1, locale="zh-CN")
    result = await ingest(
        runtime.db,
        InboundMessage(
            channel="email",
            external_id=unique("browser-att-"),
            sender=SenderIdentity("email", f"{unique('c')}@example.com"),
            subject="转账截图",
            text="截图见附件",
            attachments=(
                Attachment("转账截图.png", "image/png", tiny_png()),
                Attachment("账单 <1>.txt", "text/plain", "余额 500".encode()),
            ),
        ),
        open_new=True,
        files=runtime.files,
    )
    receipt = tmp_path / "退款凭证.png"
    receipt.write_bytes(tiny_png())

    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(f"{live_server.url}/console/login")
    await page.fill("input[name=email]", agent.agent.email)
    await page.fill("input[name=password]", agent.password)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("收件箱")

    await page.goto(f"{live_server.url}/console/tickets/{result.ticket_number}")
    first = page.locator("#conversation .msg").first
    await expect(first.locator(".attachment")).to_have_count(2)
    await expect(first.locator(".attachment a[download]").last).to_have_text("账单 1.txt")
    thumb = first.locator(".attachment img")
    await expect(thumb).to_have_count(1)
    # decode() waits for the image and fails if the browser could not load or decode it.
    assert await thumb.evaluate(DECODED_WIDTH) == 1

    await page.fill("textarea[name=body]", "退款凭证见附件。")
    await page.set_input_files("input[name=files]", str(receipt))
    await page.click("#reply-form button[type=submit]")
    await expect(page.locator(".flash-ok")).to_have_text("回复已发送。")
    reply = page.locator("#conversation .msg-agent").last
    await expect(reply.locator(".attachment a[download]")).to_have_text("退款凭证.png")
    sent_thumb = reply.locator(".attachment img")
    await expect(sent_thumb).to_have_count(1)
    assert await sent_thumb.evaluate(DECODED_WIDTH) == 1
    await page.screenshot(path=str(test_output_dir / "console-ticket-files.png"), full_page=True)
    await context.close()
    assert problems == []
