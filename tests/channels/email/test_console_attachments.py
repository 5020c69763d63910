"""Attachments through the console, end to end: a customer's email with files shows them on
the ticket page, and an agent's reply with a file reaches the relay with that file."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.attachments.test_attachments import tiny_png
from tests.channels.email.conftest import (
    Sink,
    messages_of,
    new_address,
    new_message_id,
    run_outbox_until,
    send,
    ticket_of,
)
from tests.channels.email.mail import b64, multipart_email
from tests.conftest import make_agent
from tests.console.conftest import csrf_in, sign_in
from walletdesk.channels.email.smtp_server import SmtpServerHandle
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.audit.models import AuditEvent
from walletdesk.runtime import Runtime

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _email_with_files(customer: str, message_id: str) -> bytes:
    return multipart_email(
        sender=customer,
        message_id=message_id,
        subject="转账截图 transfer screenshot",
        kind="mixed",
        parts=[
            ({"Content-Type": "text/plain; charset=utf-8"}, "截图和账单见附件".encode()),
            (
                {
                    "Content-Type": "image/png",
                    "Content-Disposition": 'attachment; filename="screen.png"',
                    "Content-Transfer-Encoding": "base64",
                },
                b64(tiny_png()),
            ),
            (
                {
                    "Content-Type": "image/png",
                    "Content-Disposition": 'inline; filename="logo.png"',
                    "Content-ID": "<logo@example.cn>",
                    "Content-Transfer-Encoding": "base64",
                },
                b64(tiny_png()),
            ),
            (
                {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": "attachment; filename*=utf-8''%E8%B4%A6%E5%8D%95.pdf",
                    "Content-Transfer-Encoding": "base64",
                },
                b64(PDF),
            ),
        ],
    )


async def test_customer_files_show_and_an_agents_file_is_emailed(
    email_runtime: Runtime,
    smtp_server: SmtpServerHandle,
    sink: Sink,
    client: httpx.AsyncClient,
) -> None:
    customer, message_id = new_address(), new_message_id()
    raw = _email_with_files(customer, message_id)
    await send(smtp_server.port, raw, mail_from=customer)
    ticket = await ticket_of(email_runtime, message_id)
    [first] = await messages_of(email_runtime, ticket.id)
    async with email_runtime.db.transaction() as session:
        stored = {
            a.filename: a
            for a in await session.scalars(
                select(Attachment).where(Attachment.message_id == first.id)
            )
        }
    assert set(stored) == {"screen.png", "logo.png", "账单.pdf"}

    agent = await make_agent(email_runtime.db, "agent", 1)
    await sign_in(client, agent)
    url = f"/console/tickets/{ticket.number}"
    page = await client.get(url)
    assert page.status_code == 200
    for name, attachment in stored.items():
        assert f'href="/console/attachments/{attachment.id}" download>{name}</a>' in page.text
    screen, logo, pdf = stored["screen.png"], stored["logo.png"], stored["账单.pdf"]
    assert f'<img src="/console/attachments/{screen.id}?inline=true"' in page.text
    assert f'<img src="/console/attachments/{logo.id}?inline=true"' in page.text
    assert f"/console/attachments/{pdf.id}?inline=true" not in page.text  # only images show
    assert "inline image" in page.text and "application/pdf" in page.text
    assert f'href="/console/messages/{first.id}/original.eml"' in page.text

    image = await client.get(f"/console/attachments/{screen.id}?inline=true")
    assert image.status_code == 200 and image.content == tiny_png()
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline")
    assert image.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert image.headers["x-content-type-options"] == "nosniff"
    download = await client.get(f"/console/attachments/{pdf.id}?inline=true")
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == PDF

    original = await client.get(f"/console/messages/{first.id}/original.eml")
    assert original.status_code == 200 and original.content == raw
    assert original.headers["content-disposition"].startswith("attachment")
    async with email_runtime.db.transaction() as session:
        viewed = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "email.original_viewed",
                AuditEvent.target_id == str(first.id),
            )
        )
    assert viewed is not None and viewed.actor_id == agent.agent.id

    sent = await client.post(
        f"{url}/reply",
        data={"csrf": csrf_in(page.text), "body": "退款凭证见附件。", "mode": "reply"},
        files=[("files", ("退款凭证.pdf", PDF, "application/pdf"))],
    )
    assert sent.status_code == 303, sent.text

    await run_outbox_until(
        email_runtime, lambda: any(d.mail_from != "<>" for d in sink.to(customer))
    )
    [reply] = [d for d in sink.to(customer) if d.mail_from != "<>"]
    [attached] = list(reply.message.iter_attachments())
    assert attached.get_filename() == "退款凭证.pdf"
    assert attached.get_content() == PDF
    assert attached.get_content_type() == "application/pdf"

    after = await client.get(url)
    assert "退款凭证.pdf" in after.text
    [_, answer] = await messages_of(email_runtime, ticket.id)
    assert f'href="/console/messages/{answer.id}/original.eml"' not in after.text


async def test_the_original_is_refused_outside_the_agents_queues(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, client: httpx.AsyncClient
) -> None:
    customer, message_id = new_address(), new_message_id()
    await send(smtp_server.port, _email_with_files(customer, message_id), mail_from=customer)
    ticket = await ticket_of(email_runtime, message_id)
    [first] = await messages_of(email_runtime, ticket.id)
    async with email_runtime.db.transaction() as session:
        attachment_id = await session.scalar(
            select(Attachment.id).where(Attachment.message_id == first.id).limit(1)
        )
    assert (await client.get(f"/console/messages/{first.id}/original.eml")).status_code == 303
    await sign_in(client, await make_agent(email_runtime.db, "agent", 2))
    assert (await client.get(f"/console/messages/{first.id}/original.eml")).status_code == 403
    assert (await client.get(f"/console/attachments/{attachment_id}")).status_code == 403
