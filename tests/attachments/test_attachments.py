from __future__ import annotations

import struct
import zlib

import httpx
import pytest

from tests.conftest import AgentLogin, make_agent, unique
from walletdesk.core.channels import Attachment, InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.core.ingest import ingest
from walletdesk.runtime import Runtime


def tiny_png() -> bytes:
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


async def _ingest_with(runtime: Runtime, *files: Attachment) -> str:
    result = await ingest(
        runtime.db,
        InboundMessage(
            channel="email",
            external_id=unique("att-"),
            text="截图见附件",
            sender=SenderIdentity("email", f"{unique('c')}@example.com"),
            attachments=files,
        ),
        files=runtime.files,
    )
    return result.ticket_number


async def test_image_is_served_inline_and_html_only_as_download(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = await _ingest_with(
        runtime,
        Attachment("screen.png", "image/png", tiny_png()),
        Attachment("evil.png", "image/png", b"<html><script>alert(1)</script></html>"),
    )
    ticket = (await client.get(f"/api/v1/tickets/{number}", headers=l1_agent.headers)).json()
    message_id = ticket["messages"][0]["id"]
    from walletdesk.core.attachments.service import attachments_of

    async with runtime.db.transaction() as session:
        stored = (await attachments_of(session, [message_id]))[message_id]
    png, disguised = stored
    assert (png.content_type, disguised.content_type) == ("image/png", "text/html")

    shown = await client.get(f"/api/v1/attachments/{png.id}?inline=true", headers=l1_agent.headers)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline")

    html = await client.get(
        f"/api/v1/attachments/{disguised.id}?inline=true", headers=l1_agent.headers
    )
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"


async def test_attachment_of_another_tier_is_refused(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    number = await _ingest_with(runtime, Attachment("a.txt", "text/plain", "转账记录".encode()))
    l2 = await make_agent(runtime.db, "agent", 2)
    l1 = await make_agent(runtime.db, "agent", 1)
    detail = (await client.get(f"/api/v1/tickets/{number}", headers=l1.headers)).json()
    from walletdesk.core.attachments.service import attachments_of

    async with runtime.db.transaction() as session:
        (att,) = (await attachments_of(session, [detail["messages"][0]["id"]]))[
            detail["messages"][0]["id"]
        ]
    assert (
        await client.get(f"/api/v1/attachments/{att.id}", headers=l2.headers)
    ).status_code == 403
    assert (
        await client.get("/api/v1/attachments/999999999", headers=l1.headers)
    ).status_code == 404


async def test_strict_check_refuses_html_declared_as_image(runtime: Runtime) -> None:
    from walletdesk.core.attachments.service import check_declared_type, sniff_type

    with pytest.raises(InvalidInput):
        check_declared_type("image/jpeg", sniff_type(b"<html><body>hi</body></html>"))
    check_declared_type("image/png", sniff_type(tiny_png()))
