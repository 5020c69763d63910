"""Leave-a-message tickets (answered by email) and files sent in a chat."""

from __future__ import annotations

import asyncio
import email
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.policy import default as default_policy

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from tests.channels.webchat.conftest import (
    ORIGIN,
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    online_agent,
    sign_in_cookie,
)
from tests.conftest import make_agent
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.actors import SYSTEM
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.db import Database
from walletdesk.runtime import outbox_handlers

Serve = Callable[..., Awaitable[ChatServer]]


# A minimal JPEG: start of image, a JFIF header, end of image.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


@dataclass
class Sink:
    port: int = 0
    received: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        assert isinstance(raw, bytes)
        self.received.append((list(envelope.rcpt_tos), raw))
        return "250 2.0.0 OK"


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    state = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(state, hostname="sink.test", loop=loop), "127.0.0.1", 0
    )
    state.port = int(server.sockets[0].getsockname()[1])
    yield state
    server.close()


async def test_leave_a_message_becomes_a_ticket_answered_by_email(
    chat: ChatServer, site: SiteInfo, db: Database, sink: Sink
) -> None:
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        preflight = await http.options("/webchat/api/offline")
        assert preflight.status_code == 204
        left = await http.post(
            f"/webchat/api/offline?site={site.key}",
            json={
                "id": "off-1",
                "name": "李雷",
                "email": "lilei@example.com",
                "phone": "13800138000",
                "message": "晚上转账失败，明天联系我",
                "locale": "zh-CN",
            },
        )
        assert left.status_code == 201, left.text
        assert left.headers["access-control-allow-origin"] == ORIGIN
        number = left.json()["ticket"]
        again = await http.post(
            f"/webchat/api/offline?site={site.key}",
            json={
                "id": "off-1",
                "name": "李雷",
                "email": "lilei@example.com",
                "message": "晚上转账失败，明天联系我",
            },
        )
        assert again.json() == {"ticket": number, "duplicate": True}

        no_address = await http.post(
            f"/webchat/api/offline?site={site.key}", json={"message": "hi"}
        )
        assert no_address.status_code == 422
        assert no_address.headers["access-control-allow-origin"] == ORIGIN
        bad_email = await http.post(
            f"/webchat/api/offline?site={site.key}", json={"message": "hi", "email": "not-an-email"}
        )
        assert bad_email.status_code == 422
        assert bad_email.json()["fields"][0]["field"] == "email"
        not_json = await http.post(f"/webchat/api/offline?site={site.key}", content=b"{")
        assert not_json.status_code == 422
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": "http://evil.test"}) as bad:
        refused = await bad.post(
            f"/webchat/api/offline?site={site.key}",
            json={"message": "hi", "email": "a@example.com"},
        )
        assert refused.status_code == 403

    chat.runtime.channels.register(
        EmailAdapter(
            chat.runtime,
            EmailSettings(
                _env_file=None,  # type: ignore[call-arg]
                smtp_url=f"smtp://127.0.0.1:{sink.port}",
            ),
        )
    )
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, number, for_update=True)
        assert (ticket.channel, ticket.thread_key) == ("webchat", None)
        await post_agent_message(session, SYSTEM, ticket, body="您好，已为您处理", internal=False)
    worker = OutboxWorker(db, outbox_handlers(chat.runtime))
    for _ in range(20):  # other tests may have left jobs due too
        if not await worker.run_once():
            break
    mails = [raw for rcpt, raw in sink.received if rcpt == ["lilei@example.com"]]
    assert len(mails) == 1
    body = email.message_from_bytes(mails[0], policy=default_policy).get_body(("plain",))
    assert body is not None
    assert "您好，已为您处理" in body.get_content()  # type: ignore[attr-defined]


async def test_customer_sends_a_picture_and_the_agent_sees_it(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        sent = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "f1", "text": "转账截图"},
            files={"file": ("截图.png", png(), "image/png")},
        )
        assert sent.status_code == 201, sent.text
        assert sent.headers["access-control-allow-origin"] == ORIGIN
        body = sent.json()
        (shown,) = body["message"]["attachments"]
        assert (shown["name"], shown["type"]) == ("截图.png", "image/png")

        waiting = await agent.expect("chat_waiting")
        assert waiting["chat"]["conversation"] == welcome["conversation"]
        await agent.send(type="accept", conversation=welcome["conversation"])
        opened = await agent.expect("conversation")
        assert opened["messages"][0]["attachments"][0]["id"] == shown["id"]

        mine = await http.get(
            f"/webchat/api/attachments/{shown['id']}",
            params={"token": welcome["token"], "inline": "true"},
        )
        assert mine.status_code == 200 and mine.content == png()
        assert mine.headers["content-type"] == "image/png"

        # Another visitor's token does not open it.
        _other, other_welcome = await customer(chat, site)
        stranger = await http.get(
            f"/webchat/api/attachments/{shown['id']}", params={"token": other_welcome["token"]}
        )
        assert stranger.status_code == 404

        # The same upload resent is stored once.
        resent = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "f1", "text": "转账截图"},
            files={"file": ("截图.png", png(), "image/png")},
        )
        assert resent.json()["message_id"] == body["message_id"]
        assert resent.json()["duplicate"] is True

    cookies = await sign_in_cookie(chat, login)
    async with httpx.AsyncClient(base_url=chat.url, cookies=cookies) as console:
        seen = await console.get(f"/console/chat/attachments/{shown['id']}")
        assert seen.status_code == 200 and seen.content == png()
        assert seen.headers["content-disposition"].startswith("attachment")
    await client.close()
    await agent.close()


@pytest.mark.parametrize(
    ("name", "declared", "content", "reason"),
    [
        ("evil.png", "image/png", b"<html><script>alert(1)</script></html>", "the content is"),
        # Content of a type chat takes, but not the type declared: refused all the same.
        (
            "a.pdf",
            "application/pdf",
            png(),
            "declared application/pdf but the content is image/png",
        ),
        ("b.pdf", "application/pdf", "转账记录".encode(), "but the content is text/plain"),
        ("c.txt", "text/plain", png(), "declared text/plain but the content is image/png"),
        ("d.png", "image/png", JPEG, "declared image/png but the content is image/jpeg"),
        ("e.jpg", "image/jpeg", PDF, "declared image/jpeg but the content is application/pdf"),
        ("a.zip", "application/zip", b"PK\x03\x04" + b"\x00" * 40, "chat accepts"),
        ("empty.txt", "text/plain", b"", "is empty"),
    ],
)
async def test_files_that_are_not_what_they_claim_are_refused(
    chat: ChatServer,
    site: SiteInfo,
    db: Database,
    name: str,
    declared: str,
    content: bytes,
    reason: str,
) -> None:
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        refused = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "bad"},
            files={"file": (name, content, declared)},
        )
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["error"]
    assert (refused.json()["code"], refused.json()["fields"][0]["field"]) == ("bad_file", "file")
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    async with db.transaction() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.external_id == f"{welcome['conversation']}:bad")
        )
    assert stored == 0
    await client.close()


async def test_file_size_limit(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(max_attachment_bytes=1000)
    site = await make_site(db)
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        big = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "big"},
            files={"file": ("big.txt", b"a" * 1001, "text/plain")},
        )
        assert big.status_code == 422 and "larger than" in big.json()["error"]
        fits = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "fits"},
            files={"file": ("fits.txt", "账单".encode() * 100, "text/plain")},
        )
        assert fits.status_code == 201, fits.text
    await client.close()


async def test_agent_sends_a_file_from_the_console(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="m", text="请发给我操作指引")
    await client.expect("ack", id="m")
    await agent.send(type="accept", conversation=welcome["conversation"])
    await agent.expect("conversation")

    cookies = await sign_in_cookie(chat, login)
    async with httpx.AsyncClient(base_url=chat.url, cookies=cookies) as console:
        page = await console.get("/console/chat/")
        assert page.status_code == 200
        import re

        csrf = re.search(r'data-csrf="([^"]+)"', page.text)
        assert csrf
        no_csrf = await console.post(
            "/console/chat/uploads",
            data={"conversation": welcome["conversation"], "id": "g0"},
            files={"file": ("guide.png", png(), "image/png")},
        )
        assert no_csrf.status_code == 403
        sent = await console.post(
            "/console/chat/uploads",
            data={"csrf": csrf.group(1), "conversation": welcome["conversation"], "id": "g1"},
            files={"file": ("guide.png", png(), "image/png")},
        )
        assert sent.status_code == 201, sent.text
        disguised = await console.post(
            "/console/chat/uploads",
            data={"csrf": csrf.group(1), "conversation": welcome["conversation"], "id": "g2"},
            files={"file": ("guide.png", b"<svg onload=alert(1)>", "image/png")},
        )
        assert disguised.status_code == 422
    got = await client.expect("message")
    assert got["message"]["attachments"][0]["name"] == "guide.png"
    async with db.transaction() as session:
        kinds = list(
            await session.scalars(
                select(Attachment.content_type)
                .join(Message, Message.id == Attachment.message_id)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Ticket.thread_key == welcome["conversation"])
            )
        )
    assert kinds == ["image/png"]
    await client.close()
    await agent.close()


@pytest.mark.parametrize(
    ("declared", "content", "stored_as"),
    [
        # Other names of the same type, and a browser that names no type: the bytes decide.
        ("image/jpg", JPEG, "image/jpeg"),
        ("IMAGE/PNG", png(), "image/png"),
        ("text/plain; charset=utf-8", "账单明细".encode(), "text/plain"),
        ("application/octet-stream", PDF, "application/pdf"),
        ("", png(), "image/png"),
    ],
)
async def test_files_whose_content_is_their_type_are_taken(
    chat: ChatServer, site: SiteInfo, declared: str, content: bytes, stored_as: str
) -> None:
    client, welcome = await customer(chat, site)
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        sent = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "ok"},
            files={"file": ("file", content, declared)},
        )
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["attachments"][0]["type"] == stored_as
    await client.close()


async def test_agents_files_must_be_their_declared_type_too(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="m", text="请发给我账单")
    await client.expect("ack", id="m")
    await agent.send(type="accept", conversation=welcome["conversation"])
    await agent.expect("conversation")
    cookies = await sign_in_cookie(chat, login)
    async with httpx.AsyncClient(base_url=chat.url, cookies=cookies) as console:
        page = await console.get("/console/chat/")
        import re

        csrf = re.search(r'data-csrf="([^"]+)"', page.text)
        assert csrf
        for name, declared, content in (
            ("bill.pdf", "application/pdf", png()),
            ("bill.png", "image/png", JPEG),
        ):
            refused = await console.post(
                "/console/chat/uploads",
                data={"csrf": csrf.group(1), "conversation": welcome["conversation"], "id": "x"},
                files={"file": (name, content, declared)},
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "bad_file"
            assert "but the content is" in refused.json()["error"]
    async with db.transaction() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Attachment)
            .join(Message, Message.id == Attachment.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.thread_key == welcome["conversation"])
        )
    assert stored == 0
    await client.close()
    await agent.close()
