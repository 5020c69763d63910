"""Bad input gets a clear protocol error, closes only where documented, and loses nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from tests.channels.webchat.conftest import (
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    open_customer,
)
from walletdesk.core.tickets.models import Message
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
