"""Upload edge cases: an oversized body refused from its headers, over-long text, error codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import func, select

from tests.channels.webchat.conftest import ORIGIN, ChatServer, customer, make_site
from walletdesk.channels.webchat.uploads import upload_body_limit
from walletdesk.core.tickets.models import Message
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
