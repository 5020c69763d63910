"""Bad input gets a clear protocol error, closes only where documented, and loses nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select

from tests.channels.webchat.conftest import (
    ORIGIN,
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    online_agent,
    open_customer,
)
from tests.conftest import make_agent
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.db import Database

Serve = Callable[..., Awaitable[ChatServer]]


async def test_malformed_frames_are_refused_and_the_chat_goes_on(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(chat, site)
    await client.send_raw(b"\x00\x01binary")
    assert (await client.expect("error"))["code"] == "binary_not_supported"
    await client.send_raw("{not json")
    assert (await client.expect("error"))["code"] == "bad_json"
    await client.send_raw("[1, 2]")
    assert (await client.expect("error"))["code"] == "bad_frame"
    await client.send(type="launch_missiles", id="u1")
    unknown = await client.expect("error")
    assert (unknown["code"], unknown["ref"], unknown["fatal"]) == ("unknown_type", "u1", False)
    await client.send(type="message", id="bad id with spaces", text="hi")
    assert (await client.expect("error"))["code"] == "bad_field"
    await client.send(type="message", id="m0", text="   ")
    assert (await client.expect("error", ref="m0"))["code"] == "bad_field"
    await client.send(type="rate", score=9)
    assert (await client.expect("error"))["code"] == "bad_field"

    # After all that, a good message still goes through, once.
    await client.send(type="message", id="m1", text="现在可以了吗")
    ack = await client.expect("ack", id="m1")
    async with db.transaction() as session:
        stored = list(
            await session.scalars(
                select(Message.body_text).where(
                    Message.external_id.startswith(welcome["conversation"] + ":")
                )
            )
        )
    assert stored == ["现在可以了吗"]
    assert ack["message_id"]
    await client.close()


async def test_oversized_messages_and_frames(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(max_text_chars=100, max_frame_bytes=2000)
    site = await make_site(db)
    client, _ = await customer(chat, site)
    await client.send(type="message", id="big", text="长" * 101)
    error = await client.expect("error", ref="big")
    assert (error["code"], error["fatal"]) == ("too_large", False)
    await client.send(type="message", id="huge", text="x" * 5000)
    assert (await client.expect("error"))["code"] == "too_large"
    await client.send(type="message", id="ok", text="长" * 100)
    assert (await client.expect("ack", id="ok"))["message_id"]
    await client.close()


async def test_html_in_a_message_is_kept_as_text(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    client, _ = await customer(chat, site)
    await client.send(type="message", id="x1", text=payload)
    ack = await client.expect("ack", id="x1")
    async with db.transaction() as session:
        message = await session.get(Message, ack["message_id"])
        assert message is not None
        # Stored and sent on exactly as typed: never rendered as HTML by the server, and
        # the widget and panel show it with textContent (tests/…/test_browser.py).
        assert (message.body_text, message.body_html) == (payload, None)
    await client.close()


async def test_too_many_refused_frames_close_the_socket(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(max_errors_per_minute=3)
    site = await make_site(db)
    client, _ = await customer(chat, site)
    for _ in range(4):
        await client.send_raw("nope")
    flood = await client.expect("error", code="too_many_errors")
    assert flood["fatal"] is True
    assert await client.closed() == 4429


async def test_hello_timeout_closes(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(hello_timeout_seconds=0.3)
    site = await make_site(db)
    client = await open_customer(chat, site, send_hello=False)
    assert (await client.expect("error"))["code"] == "hello_timeout"
    assert await client.closed() == 4408


async def test_second_hello_is_refused(chat: ChatServer, site: SiteInfo) -> None:
    client, _ = await customer(chat, site)
    await client.send(type="hello")
    assert (await client.expect("error"))["code"] == "already_welcomed"
    await client.send(type="ping")
    await client.expect("pong")
    await client.close()


# JSON escapes for text no database column can hold: a lone surrogate (UTF-8 cannot encode
# it; the PostgreSQL driver fails) and a NUL (PostgreSQL's text refuses it, SQLite keeps it).
LONE_SURROGATE = "\\ud800"
NUL = "\\u0000"
TOO_BIG = 10**19  # past a 64-bit integer


async def _stored_texts(db: Database, conversation: str) -> list[str]:
    async with db.transaction() as session:
        return list(
            await session.scalars(
                select(Message.body_text)
                .where(Message.external_id.startswith(conversation + ":"))
                .order_by(Message.id)
            )
        )


async def test_unstorable_text_and_huge_ids_are_bad_fields_for_the_customer(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="first", text="我的充值没到账")
    await client.expect("ack", id="first")

    for client_id, escape in (("sur", LONE_SURROGATE), ("nul", NUL)):
        await client.send_raw(f'{{"type":"message","id":"{client_id}","text":"a{escape}b"}}')
        refused = await client.expect("error", ref=client_id)
        # Not `unavailable` (the widget would resend it for ever) and nothing stored.
        assert (refused["code"], refused["field"], refused["fatal"]) == ("bad_field", "text", False)
    for frame, field in (
        (f'{{"type":"read","up_to":{TOO_BIG}}}', "up_to"),
        (f'{{"type":"delivered","up_to":{TOO_BIG}}}', "up_to"),
        (f'{{"type":"history","after":{TOO_BIG}}}', "after"),
        (f'{{"type":"contact","email":"a{LONE_SURROGATE}@example.com"}}', "email"),
        (f'{{"type":"contact","name":"{NUL}","phone":"13800138000"}}', "name"),
    ):
        await client.send_raw(frame)
        refused = await client.expect("error")
        assert (refused["code"], refused.get("field")) == ("bad_field", field), frame

    # The chat goes on: the largest id a column holds is fine, and so is the next message.
    await client.send(type="read", up_to=2**63 - 1)
    await client.send(type="history", after=2**63 - 1)
    assert (await client.expect("history"))["messages"] == []
    await client.send(type="message", id="last", text="还在吗")
    await client.expect("ack", id="last")
    assert "error" not in client.types()
    assert await _stored_texts(db, welcome["conversation"]) == ["我的充值没到账", "还在吗"]
    await client.close()


async def test_unstorable_text_and_huge_ids_are_bad_fields_for_the_agent(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site)
    pid = welcome["conversation"]
    await client.send(type="message", id="m1", text="请帮我看看")
    await client.expect("ack", id="m1")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")

    await agent.send_raw(
        f'{{"type":"message","conversation":"{pid}","id":"a1","text":"x{LONE_SURROGATE}"}}'
    )
    refused = await agent.expect("error", ref="a1")
    assert (refused["code"], refused["field"]) == ("bad_field", "text")
    for frame, field in (
        (f'{{"type":"message","conversation":"{pid}","id":"a2","text":"x{NUL}"}}', "text"),
        (f'{{"type":"read","conversation":"{pid}","up_to":{TOO_BIG}}}', "up_to"),
        (f'{{"type":"open","conversation":"{pid}","after":{TOO_BIG}}}', "after"),
        (f'{{"type":"transfer","conversation":"{pid}","to_agent":{TOO_BIG}}}', "to_agent"),
        # agents.id is an INTEGER column: 2**31 does not fit either.
        (f'{{"type":"transfer","conversation":"{pid}","to_agent":{2**31}}}', "to_agent"),
        (
            f'{{"type":"transfer","conversation":"{pid}","escalate":true,'
            f'"reason":"{LONE_SURROGATE}"}}',
            "reason",
        ),
        (f'{{"type":"open","ticket":"{NUL}"}}', "ticket"),
    ):
        await agent.send_raw(frame)
        refused = await agent.expect("error")
        assert (refused["code"], refused.get("field")) == ("bad_field", field), frame

    await agent.send(type="message", conversation=pid, id="a3", text="您好，我来看看")
    await agent.expect("ack", id="a3")
    await client.expect_message("您好，我来看看")
    assert "error" not in agent.types()
    async with db.transaction() as session:
        replies = list(
            await session.scalars(
                select(Message.body_text)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Ticket.thread_key == pid, Message.agent_id == login.agent.id)
            )
        )
    assert replies == ["您好，我来看看"]
    await client.close()
    await agent.close()


async def test_leave_a_message_refuses_unstorable_text(chat: ChatServer, site: SiteInfo) -> None:
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        for field in ("message", "name"):
            body = {"message": "晚上转账失败", "email": "li@example.com", "name": "李雷"}
            body[field] += "\x00"
            left = await http.post(f"/webchat/api/offline?site={site.key}", json=body)
            assert left.status_code == 422, left.text
            assert left.json()["code"] == "bad_field"
            assert left.json()["fields"][0]["field"] == field
