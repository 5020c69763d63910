"""Files on the console's ticket page: listed with each message, escaped, served safely,
loaded in one query, and refused on a reply when they are not what they claim."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event, select

from tests.attachments.test_attachments import tiny_png
from tests.conftest import make_agent, unique
from tests.console.conftest import csrf_in, escalate_to, open_ticket, sign_in
from walletdesk.core.actors import SYSTEM
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.attachments.service import MAX_ATTACHMENTS_PER_MESSAGE
from walletdesk.core.channels import Attachment as FileIn
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest
from walletdesk.core.tickets.queries import get_ticket, ticket_messages
from walletdesk.db import utcnow
from walletdesk.runtime import Runtime

HTML_NAME = "<script>alert(1)</script>.txt"


async def _email_ticket(runtime: Runtime, *files: FileIn, text: str = "见附件") -> str:
    result = await ingest(
        runtime.db,
        InboundMessage(
            channel="email",
            external_id=unique("att-"),
            sender=SenderIdentity("email", f"{unique('c')}@example.com"),
            subject="附件",
            text=text,
            attachments=files,
        ),
        open_new=True,
        files=runtime.files,
    )
    return result.ticket_number


async def _message_ids(runtime: Runtime, number: str) -> list[int]:
    async with runtime.db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, number)
        return [m.id for m in await ticket_messages(session, ticket.id)]


async def _attachments(runtime: Runtime, message_id: int) -> list[Attachment]:
    async with runtime.db.transaction() as session:
        rows = await session.scalars(
            select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id)
        )
        return list(rows.all())


async def test_file_names_with_html_are_escaped(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    number = await _email_ticket(
        runtime, FileIn("Tom & Jerry's \"<b>plan.txt", "text/plain", b"plan")
    )
    [message_id] = await _message_ids(runtime, number)
    # A name as another path might have stored it, past clean_filename: still only text.
    key = await runtime.files.put(b"alert")
    async with runtime.db.transaction() as session:
        session.add(
            Attachment(
                message_id=message_id,
                filename=HTML_NAME,
                content_type="text/plain",
                declared_type="text/plain",
                size=5,
                sha256=key,
                storage_key=key,
                inline=False,
                created_at=utcnow(),
            )
        )
    await sign_in(client, await make_agent(runtime.db))
    page = (await client.get(f"/console/tickets/{number}")).text
    assert "<script>alert(1)</script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt</a>" in page
    assert "Tom &amp; Jerry&#39;s bplan.txt</a>" in page  # clean_filename took <, > and "


async def test_files_load_in_one_query_and_another_tier_is_refused(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    number = await _email_ticket(
        runtime,
        FileIn("one.png", "image/png", tiny_png()),
        FileIn("page.html", "text/html", b"<html><body><script>x()</script></body></html>"),
    )
    for text in ("second", "third"):  # follow-ups quoting the number join the ticket
        await _email_ticket(runtime, FileIn(f"{text}.txt", "text/plain", text.encode()))
        await ingest(
            runtime.db,
            InboundMessage(
                channel="email",
                external_id=unique("more-"),
                sender=SenderIdentity("email", f"{unique('c')}@example.com"),
                text=f"ticket {number}: {text}",
                attachments=(FileIn(f"{text}.txt", "text/plain", text.encode()),),
            ),
            files=runtime.files,
        )
    message_ids = await _message_ids(runtime, number)
    assert len(message_ids) == 3
    agent = await make_agent(runtime.db)
    await sign_in(client, agent)

    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        page = await client.get(f"/console/tickets/{number}")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert page.status_code == 200
    assert len([s for s in statements if "FROM attachments" in s]) == 1
    for name in ("one.png", "page.html", "second.txt", "third.txt"):
        assert f"download>{name}</a>" in page.text

    png, html = await _attachments(runtime, message_ids[0])
    assert f'<img src="/console/attachments/{png.id}?inline=true"' in page.text
    assert f"/console/attachments/{html.id}?inline" not in page.text
    served = await client.get(f"/console/attachments/{html.id}?inline=true")
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert (await client.get("/console/attachments/999999999")).status_code == 404

    await escalate_to(runtime.db, number, 2)
    assert (await client.get(f"/console/attachments/{png.id}")).status_code == 403
    client.cookies.clear()
    signed_out = await client.get(f"/console/attachments/{png.id}")
    assert signed_out.status_code == 303 and "/console/login" in signed_out.headers["location"]


async def test_a_reply_with_files_and_a_refused_file(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    ticket = await open_ticket(runtime.db, channel="email")
    number = ticket.ticket_number
    await sign_in(client, await make_agent(runtime.db, locale="zh-CN"))
    url = f"/console/tickets/{number}"
    page = await client.get(url)
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="file" name="files" multiple' in page.text and "添加附件" in page.text
    csrf = csrf_in(page.text)

    disguised = await client.post(
        f"{url}/reply",
        data={"csrf": csrf, "body": "请看截图", "mode": "reply"},
        files=[("files", ("shot.png", b"<html><script>x()</script></html>", "image/png"))],
    )
    assert disguised.status_code == 422
    assert "附件未被接受" in disguised.text and "请重新选择文件" in disguised.text
    assert "请看截图</textarea>" in disguised.text  # the text is kept
    assert len(await _message_ids(runtime, number)) == 1

    too_many = [
        ("files", (f"f{n}.txt", b"x", "text/plain")) for n in range(MAX_ATTACHMENTS_PER_MESSAGE + 1)
    ]
    refused = await client.post(
        f"{url}/reply", data={"csrf": csrf, "body": "多个文件", "mode": "note"}, files=too_many
    )
    assert refused.status_code == 422 and len(await _message_ids(runtime, number)) == 1

    no_csrf = await client.post(
        f"{url}/reply",
        data={"body": "x", "mode": "note"},
        files=[("files", ("a.txt", b"a", "text/plain"))],
    )
    assert no_csrf.status_code == 403

    noted = await client.post(
        f"{url}/reply",
        data={"csrf": csrf, "body": "账本截图", "mode": "note"},
        files=[
            ("files", ("ledger.png", tiny_png(), "image/png")),
            ("files", ("", b"", "application/octet-stream")),  # an empty file input
        ],
    )
    assert noted.status_code == 303
    ids = await _message_ids(runtime, number)
    [stored] = await _attachments(runtime, ids[-1])
    assert (stored.filename, stored.content_type, stored.size) == (
        "ledger.png",
        "image/png",
        len(tiny_png()),
    )
    after = await client.get(url)
    assert f'<img src="/console/attachments/{stored.id}?inline=true"' in after.text
