"""Upload edge cases: oversized bodies (declared or chunked), over-long text, error codes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.channels.webchat.conftest import (
    ORIGIN,
    ChatServer,
    customer,
    make_site,
    online_agent,
    sign_in_cookie,
)
from tests.conftest import make_agent
from walletdesk.channels.webchat.uploads import upload_body_limit
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.db import Database

Serve = Callable[..., Awaitable[ChatServer]]


async def _stored(db: Database, conversation: str, client_id: str) -> int:
    async with db.transaction() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.external_id == f"{conversation}:{client_id}")
            )
            or 0
        )


async def test_an_oversized_upload_is_refused_from_its_content_length(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(max_attachment_bytes=1000)
    declared = upload_body_limit(chat.app.state.webchat_settings) + 1
    reader, writer = await asyncio.open_connection("127.0.0.1", chat.port)
    # Headers and a first chunk only: a server that read the whole body would wait forever.
    writer.write(
        (
            "POST /webchat/api/uploads HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{chat.port}\r\n"
            f"Origin: {ORIGIN}\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {declared}\r\n"
            "\r\n"
            "--b0undary\r\n"
        ).encode()
    )
    await writer.drain()
    async with asyncio.timeout(10):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(head.lower().split("content-length:")[1].split("\r\n")[0])
        body = json.loads(await reader.readexactly(length))
    writer.close()
    assert head.startswith("HTTP/1.1 413"), head
    assert f"access-control-allow-origin: {ORIGIN}" in head.lower()
    assert body["code"] == "too_large"
    assert "larger than" in body["error"]

    # A body that fits the declared limit is read and judged as before.
    site = await make_site(db)
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        big = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "big"},
            files={"file": ("big.txt", b"a" * 1001, "text/plain")},
        )
    assert big.status_code == 422
    assert (big.json()["code"], big.json()["fields"][0]["field"]) == ("too_large", "file")
    await client.close()


async def test_upload_text_over_the_chat_limit_is_refused_not_cut(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(max_text_chars=10)
    site = await make_site(db)
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        long = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "long", "text": "账" * 11},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert long.status_code == 422, long.text
        assert long.json()["code"] == "too_large"
        assert long.json()["fields"][0]["field"] == "text"
        assert await _stored(db, welcome["conversation"], "long") == 0

        exact = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "exact", "text": "账" * 10},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert exact.status_code == 201, exact.text
        assert exact.json()["message"]["text"] == "账" * 10
    await client.close()


async def test_upload_errors_carry_codes_the_widget_translates(
    chat: ChatServer, db: Database
) -> None:
    site = await make_site(db)
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        forged = await http.post(
            "/webchat/api/uploads",
            data={"token": "forged", "id": "f"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert (forged.status_code, forged.json()["code"]) == (403, "bad_token")
        disguised = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "f"},
            files={"file": ("a.png", b"<html></html>", "image/png")},
        )
        assert (disguised.status_code, disguised.json()["code"]) == (422, "bad_file")
        offline = await http.post(
            f"/webchat/api/offline?site={site.key}", json={"message": "hi", "email": "nope"}
        )
        assert offline.json()["code"] == "bad_field"
        assert offline.json()["fields"][0]["field"] == "email"
        nobody = await http.post(f"/webchat/api/offline?site={site.key}", json={"message": "hi"})
        assert nobody.json()["code"] == "need_contact"

        await client.send(type="message", id="m1", text="你好")
        await client.expect("ack", id="m1")
        await client.send(type="end")
        await client.expect("ended")
        ended = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "late"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert (ended.status_code, ended.json()["code"]) == (422, "conversation_ended")
    await client.close()


async def _chunked_upload(
    port: int, path: str, over: int, headers: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """A multipart upload sent chunked (no Content-Length), `over` bytes in all, unfinished.

    The last chunk crosses the limit and the body's end never comes: a server that reads
    the body to its end waits for ever (the timeout fails the test) instead of answering.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Origin: {ORIGIN}\r\n{head}"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n"
        ).encode()
    )
    part = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
    )
    sent = 0
    while sent < over:
        chunk = part if sent == 0 else b"a" * min(16 * 1024, over - sent)
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sent += len(chunk)
        await writer.drain()
    async with asyncio.timeout(10):
        status_and_headers = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(status_and_headers.lower().split("content-length:")[1].split("\r\n")[0])
        body = json.loads(await reader.readexactly(length))
    writer.close()
    return status_and_headers, body


async def test_a_chunked_upload_is_cut_off_at_the_limit(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(max_attachment_bytes=1000)
    limit = upload_body_limit(chat.app.state.webchat_settings)
    head, body = await _chunked_upload(chat.port, "/webchat/api/uploads", limit + 10, {})
    assert head.startswith("HTTP/1.1 413"), head
    assert f"access-control-allow-origin: {ORIGIN}" in head.lower()
    assert body["code"] == "too_large"

    login = await make_agent(db, "agent", 1)
    cookies = await sign_in_cookie(chat, login)
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    # The agents' route: refused before the CSRF token is even looked at.
    head, body = await _chunked_upload(
        chat.port, "/console/chat/uploads", limit + 10, {"Cookie": cookie}
    )
    assert head.startswith("HTTP/1.1 413"), head
    assert body["code"] == "too_large"


async def test_the_agents_upload_is_refused_from_its_content_length(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(max_attachment_bytes=1000)
    login = await make_agent(db, "agent", 1)
    cookies = await sign_in_cookie(chat, login)
    declared = upload_body_limit(chat.app.state.webchat_settings) + 1
    reader, writer = await asyncio.open_connection("127.0.0.1", chat.port)
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    writer.write(
        (
            "POST /console/chat/uploads HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{chat.port}\r\n"
            f"Cookie: {cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {declared}\r\n"
            "\r\n"
            "--b0undary\r\n"
        ).encode()
    )
    await writer.drain()
    async with asyncio.timeout(10):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
    writer.close()
    assert head.startswith("HTTP/1.1 413"), head


async def _console(chat: ChatServer, db: Database) -> tuple[httpx.AsyncClient, str, str]:
    """A signed-in console client, its CSRF token, and a chat its agent holds."""
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    site = await make_site(db)
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="m", text="请把说明发给我")
    await client.expect("ack", id="m")
    await agent.send(type="accept", conversation=welcome["conversation"])
    await agent.expect("conversation")
    await client.close()
    await agent.close()
    cookies = await sign_in_cookie(chat, login)
    console = httpx.AsyncClient(base_url=chat.url, cookies=cookies)
    page = await console.get("/console/chat/")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf
    return console, csrf.group(1), welcome["conversation"]


async def test_agent_text_over_the_limit_is_refused_not_cut(
    serve_chat: Serve, db: Database
) -> None:
    chat = await serve_chat(max_text_chars=10)
    console, csrf, pid = await _console(chat, db)
    try:
        long = await console.post(
            "/console/chat/uploads",
            data={"csrf": csrf, "conversation": pid, "id": "long", "text": "账" * 11},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert long.status_code == 422, long.text
        assert (long.json()["code"], long.json()["fields"][0]["field"]) == ("too_large", "text")
        exact = await console.post(
            "/console/chat/uploads",
            data={"csrf": csrf, "conversation": pid, "id": "exact", "text": "账" * 10},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert exact.status_code == 201, exact.text
        # A NUL (no database stores one) is refused in the panel's JSON, naming the field.
        nul = await console.post(
            "/console/chat/uploads",
            data={"csrf": csrf, "conversation": pid, "id": "nul", "text": "账\x00单"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert nul.status_code == 422, nul.text
        assert (nul.json()["code"], nul.json()["fields"][0]["field"]) == ("bad_field", "text")
    finally:
        await console.aclose()
    async with db.transaction() as session:
        texts = list(
            await session.scalars(
                select(Message.body_text)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Ticket.thread_key == pid, Message.author_kind == "agent")
            )
        )
    assert texts == ["账" * 10]


MALFORMED = [
    # A part header past what the multipart parser takes.
    (
        "multipart/form-data; boundary=b0undary",
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
        + b"a" * 5000
        + b'.png"\r\nContent-Type: image/png\r\n\r\nxx\r\n--b0undary--\r\n',
    ),
    ("multipart/form-data", b"no boundary at all"),
]


async def test_a_malformed_form_is_bad_form(chat: ChatServer, db: Database) -> None:
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        for content_type, content in MALFORMED:
            answer = await http.post(
                "/webchat/api/uploads", content=content, headers={"Content-Type": content_type}
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "bad_form"
            assert answer.headers["access-control-allow-origin"] == ORIGIN
    console, _csrf, _pid = await _console(chat, db)
    try:
        for content_type, content in MALFORMED:
            answer = await console.post(
                "/console/chat/uploads", content=content, headers={"Content-Type": content_type}
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "bad_form"
    finally:
        await console.aclose()
