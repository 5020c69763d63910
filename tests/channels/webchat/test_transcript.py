"""After a chat ends the customer may have its transcript emailed: once per address, public only."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, expect
from sqlalchemy import select

from tests.channels.email.conftest import Sink, make_settings, sink  # noqa: F401 (fixture)
from tests.channels.webchat.conftest import (
    ChatServer,
    Client,
    SiteInfo,
    customer,
    make_site,
    online_agent,
    signed,
)
from tests.channels.webchat.test_browser import browser, wallet_site  # noqa: F401 (fixtures)
from tests.conftest import AgentLogin, make_agent, unique
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.webchat.transcript import TRANSCRIPT_JOB
from walletdesk.core.actors import Actor
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import DeliveryStatus, Message, Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.runtime import Runtime, outbox_handlers

TINY_BACKOFF = 0.005
NOTE = "内部备注：客户曾两次投诉，注意语气"


async def run_outbox(runtime: Runtime, *, until_key: str | None = None) -> None:
    """Rounds of the real worker until nothing is due (or the job with this key finished)."""
    worker = OutboxWorker(runtime.db, outbox_handlers(runtime), backoff_base=TINY_BACKOFF)
    for _ in range(200):
        handled = await worker.run_once()
        if until_key is not None:
            async with runtime.db.transaction() as session:
                status = await session.scalar(
                    select(OutboxJob.status).where(OutboxJob.idempotency_key == until_key)
                )
            if status in (OutboxStatus.DONE, OutboxStatus.DEAD):
                return
        elif not handled:
            return
        await asyncio.sleep(TINY_BACKOFF)
    raise AssertionError("the outbox did not get there")


async def ended_chat(
    chat: ChatServer, site: SiteInfo, login: AgentLogin
) -> tuple[Client, str, str]:
    """A chat where customer and agent spoke and the agent left an internal note, then ended."""
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site, locale="zh-CN")
    pid = welcome["conversation"]
    await client.send(type="message", id="c1", text="转账一直显示处理中")
    number = (await client.expect("ack", id="c1"))["ticket"]
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await agent.send(type="message", conversation=pid, id="a1", text="已为您加急处理")
    await agent.expect("ack", id="a1")
    await client.expect_message("已为您加急处理")
    actor = Actor("agent", login.agent.id, login.agent.name, login.agent.role, 1)
    async with chat.runtime.db.transaction() as session:
        ticket = await get_ticket(session, actor, number, for_update=True)
        await post_agent_message(session, actor, ticket, body=NOTE, internal=True)
    # The reply's own delivery goes now, while the chat is live (not by email later).
    await run_outbox(chat.runtime)
    await client.send(type="end")
    await client.expect("ended")
    await agent.close()
    return client, pid, number


def transcript_mails(relay: Sink, address: str) -> list[str]:
    texts = []
    for delivered in relay.to(address):
        body = delivered.message.get_body(("plain",))
        assert body is not None
        texts.append(str(body.get_content()))  # type: ignore[attr-defined]
    return texts


async def test_transcript_is_emailed_once_with_public_messages_only(
    chat: ChatServer,
    site: SiteInfo,
    sink: Sink,  # noqa: F811
) -> None:
    runtime = chat.runtime
    runtime.channels.register(EmailAdapter(runtime, make_settings(sink.port)))
    login = await make_agent(runtime.db, "agent", 1)
    client, pid, number = await ended_chat(chat, site, login)
    address = f"{unique('t')}@example.cn"

    await client.send(type="transcript", email=f"  {address.upper()} ")
    queued = await client.expect("transcript_queued")
    assert (queued["email"], queued["duplicate"]) == (address, False)
    await run_outbox(runtime, until_key=f"transcript:{pid}:{address}")

    mails = transcript_mails(sink, address)
    assert len(mails) == 1
    text = mails[0]
    assert "转账一直显示处理中" in text and "已为您加急处理" in text
    assert "客户:" in text and f"{login.agent.name}:" in text
    assert number in text and "在任何渠道引用此工单号" in text
    assert NOTE not in text and "Transcript requested" not in text
    assert "聊天记录" in str(sink.to(address)[0].message["Subject"])

    async with runtime.db.transaction() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        note = await session.scalar(
            select(Message).where(
                Message.ticket_id == ticket.id,
                Message.body_text == f"Transcript requested to {address}",
            )
        )
        assert note is not None and note.internal
        assert note.delivery_status == DeliveryStatus.SENT
        identity = await session.scalar(
            select(ContactIdentity).where(
                ContactIdentity.kind == "email", ContactIdentity.value == address
            )
        )
        assert identity is not None
        assert (identity.contact_id, identity.verified) == (ticket.contact_id, False)

    # The same address again: answered, but nothing more is queued or sent.
    await client.send(type="transcript", email=address)
    again = await client.expect("transcript_queued")
    assert (again["email"], again["duplicate"]) == (address, True)
    await run_outbox(runtime)
    assert len(transcript_mails(sink, address)) == 1
    async with runtime.db.transaction() as session:
        jobs = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.kind == TRANSCRIPT_JOB, OutboxJob.ticket_id == ticket.id
                )
            )
        ).all()
        notes = (
            await session.scalars(
                select(Message).where(
                    Message.ticket_id == ticket.id,
                    Message.body_text.startswith("Transcript requested"),
                )
            )
        ).all()
    assert (len(jobs), len(notes)) == (1, 1)
    await client.close()


async def test_bad_address_gets_a_field_error(
    chat: ChatServer, site: SiteInfo, runtime: Runtime
) -> None:
    login = await make_agent(runtime.db, "agent", 1)
    client, pid, _ = await ended_chat(chat, site, login)
    await client.send(type="transcript", email="not an address")
    error = await client.expect("error")
    assert (error["code"], error["field"], error["fatal"]) == ("bad_field", "email", False)
    await client.send(type="transcript")
    missing = await client.expect("error")
    assert (missing["code"], missing["field"]) == ("bad_field", "email")
    async with runtime.db.transaction() as session:
        queued = await session.scalar(
            select(OutboxJob.id).where(OutboxJob.idempotency_key.startswith(f"transcript:{pid}"))
        )
    assert queued is None
    # The socket is still usable.
    await client.send(type="ping")
    await client.expect("pong")
    await client.close()


async def test_transcript_before_the_end_is_refused(
    chat: ChatServer, site: SiteInfo, runtime: Runtime
) -> None:
    client, welcome = await customer(chat, site)
    await client.send(type="transcript", email="early@example.cn")
    assert (await client.expect("error"))["code"] == "no_conversation"
    await client.send(type="message", id="m1", text="还在处理吗")
    await client.expect("ack", id="m1")
    await client.send(type="transcript", email="early@example.cn")
    assert (await client.expect("error"))["code"] == "conversation_open"
    async with runtime.db.transaction() as session:
        queued = await session.scalar(
            select(OutboxJob.id).where(
                OutboxJob.idempotency_key.startswith(f"transcript:{welcome['conversation']}")
            )
        )
    assert queued is None
    await client.close()


SIGNED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wallet</title></head><body>
<script src="{desk}/webchat/widget.js" data-site="{site}" data-locale="en" defer
  data-user-id="{user}" data-user-expires="{expires}" data-user-signature="{signature}"
  data-user-email="{email}"></script>
</body></html>"""


@pytest.mark.browser
async def test_widget_offers_the_transcript_after_the_end(
    chat: ChatServer,
    browser: Browser,  # noqa: F811
    wallet_site: tuple[FastAPI, str],  # noqa: F811
    sink: Sink,  # noqa: F811
) -> None:
    runtime = chat.runtime
    runtime.channels.register(EmailAdapter(runtime, make_settings(sink.port)))
    host_app, host_url = wallet_site
    site = await make_site(runtime.db, origins=(host_url,))
    given = f"{unique('w')}@example.cn"
    identity = signed(site, unique("u"))

    @host_app.get("/", response_class=HTMLResponse)
    async def host_page() -> str:
        return SIGNED_PAGE.format(
            desk=chat.url,
            site=site.key,
            user=identity["user_id"],
            expires=identity["expires"],
            signature=identity["signature"],
            email=given,
        )

    # With an agent online the widget offers a chat, not a leave-a-message form.
    agent, _ = await online_agent(chat, await make_agent(runtime.db, "agent", 1))
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(host_url)
    await page.locator("#walletdesk-chat .wd-launcher").click()
    composer = page.locator("#walletdesk-chat .wd-input")
    await composer.fill("Where is my refund?")
    await composer.press("Enter")
    await expect(page.locator("#walletdesk-chat .wd-ticket")).to_contain_text("Ticket")
    await page.locator("#walletdesk-chat .wd-end").click()

    field = page.locator("#walletdesk-chat .wd-transcript input[name=email]")
    await expect(field).to_be_visible()
    await expect(field).to_have_value(given)
    result = page.locator("#walletdesk-chat .wd-transcript-result")
    button = page.locator("#walletdesk-chat .wd-transcript .wd-primary")
    await field.fill("someone@localhost")  # the browser lets it through; the server does not
    await button.click()
    await expect(result).to_have_text("Please enter a valid email address")
    await field.fill(given)
    await button.click()
    await expect(result).to_have_text(f"Sent to {given}. Check your inbox.")

    async with runtime.db.transaction() as session:
        key = await session.scalar(
            select(OutboxJob.idempotency_key).where(
                OutboxJob.kind == TRANSCRIPT_JOB, OutboxJob.payload["email"].as_string() == given
            )
        )
    assert key is not None
    await run_outbox(runtime, until_key=key)
    mails = transcript_mails(sink, given)
    assert len(mails) == 1 and "Where is my refund?" in mails[0]
    assert mails[0].startswith("Chat transcript")
    assert errors == []
    await context.close()
    await agent.close()
