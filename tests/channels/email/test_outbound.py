"""Agents' replies go out through the outbox to a relay on loopback; bounces come back."""

from __future__ import annotations

from sqlalchemy import select

from tests.attachments.test_attachments import tiny_png
from tests.channels.email.conftest import (
    SUPPORT,
    Sink,
    messages_of,
    new_address,
    new_message_id,
    run_outbox_until,
    send,
    ticket_of,
)
from tests.channels.email.mail import multipart_email, text_email
from tests.conftest import make_agent
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.inbound import receive
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.email.smtp_server import SmtpServerHandle
from walletdesk.core.attachments.service import store_attachment
from walletdesk.core.channels import OutboundMessage
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.tickets import queries
from walletdesk.core.tickets.models import DeliveryStatus, Message, Ticket
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.runtime import Runtime


async def _customer_ticket(
    runtime: Runtime, port: int, *, subject: str = "提现失败 withdrawal failed"
) -> tuple[Ticket, str, str]:
    customer, message_id = new_address(), new_message_id()
    await send(
        port,
        text_email(sender=customer, message_id=message_id, subject=subject),
        mail_from=customer,
    )
    return await ticket_of(runtime, message_id), customer, message_id


async def _reply(runtime: Runtime, ticket: Ticket, body: str, *, with_file: bool = False) -> int:
    agent = await make_agent(runtime.db, "agent", 1)
    async with runtime.db.transaction() as session:
        locked = await queries.get_ticket(session, agent.actor, ticket.number, for_update=True)
        message = await post_agent_message(session, agent.actor, locked, body=body, internal=False)
        if with_file:
            await store_attachment(
                session,
                runtime.files,
                message_id=message.id,
                filename="退款凭证.png",
                declared_type="image/png",
                data=tiny_png(),
            )
        return message.id


async def _message(runtime: Runtime, message_id: int) -> Message:
    async with runtime.db.transaction() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def _job_status(runtime: Runtime, message_id: int) -> str:
    async with runtime.db.transaction() as session:
        status = await session.scalar(
            select(OutboxJob.status).where(OutboxJob.idempotency_key == f"message:{message_id}")
        )
    return str(status)


async def test_a_reply_threads_in_the_customers_client(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    ticket, customer, first_id = await _customer_ticket(email_runtime, smtp_server.port)
    reply_id = await _reply(
        email_runtime, ticket, "您好，退款已处理。\nYour refund is done.", with_file=True
    )

    await run_outbox_until(
        email_runtime, lambda: len(sink.to(customer)) == 2
    )  # the acknowledgement, then the reply
    delivered = [d for d in sink.to(customer) if d.mail_from != "<>"]
    [reply] = delivered
    assert reply.mail_from == SUPPORT
    mail = reply.message
    assert mail["Subject"] == f"Re: [#{ticket.number}] 提现失败 withdrawal failed"
    assert mail["In-Reply-To"] == first_id
    references = str(mail["References"]).split()
    assert references[0] == first_id
    assert mail["Message-ID"] not in references
    assert mail.get_content_type() == "multipart/mixed"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    assert (
        plain.get_content().replace("\r\n", "\n").strip()
        == "您好，退款已处理。\nYour refund is done."
    )
    assert "您好，退款已处理。<br>" in html.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "退款凭证.png"
    assert attachment.get_content() == tiny_png()

    message = await _message(email_runtime, reply_id)
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.external_id == mail["Message-ID"]

    # The customer answers the reply (In-Reply-To only): it joins the same ticket.
    answer_id = new_message_id()
    await send(
        smtp_server.port,
        text_email(
            sender=customer,
            message_id=answer_id,
            subject="Re: thanks",
            body="收到，谢谢！",
            extra={"In-Reply-To": str(mail["Message-ID"])},
        ),
    )
    assert (await ticket_of(email_runtime, answer_id)).id == ticket.id


async def test_a_refusing_relay_is_retried_and_the_reply_delivered_exactly_once(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    ticket, customer, _ = await _customer_ticket(email_runtime, smtp_server.port)
    await run_outbox_until(email_runtime, lambda: len(sink.to(customer)) == 1)  # the ack
    sink.refusals = ["451 4.3.0 try again later", "421 4.3.2 shutting down"]
    reply_id = await _reply(email_runtime, ticket, "We are checking with the bank.")

    await run_outbox_until(email_runtime, lambda: _settled(email_runtime, reply_id))
    replies = [d for d in sink.to(customer) if d.mail_from != "<>"]
    assert len(replies) == 1
    assert sink.refusals == []
    message = await _message(email_runtime, reply_id)
    assert (message.delivery_status, message.delivery_error) == (DeliveryStatus.SENT, None)
    async with email_runtime.db.transaction() as session:
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.idempotency_key == f"message:{reply_id}")
        )
    assert job is not None and (job.status, job.attempts) == (OutboxStatus.DONE, 3)


async def _settled(runtime: Runtime, message_id: int) -> bool:
    return await _job_status(runtime, message_id) in (OutboxStatus.DONE, OutboxStatus.DEAD)


async def test_a_permanent_refusal_fails_the_reply_on_the_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    ticket, customer, _ = await _customer_ticket(email_runtime, smtp_server.port)
    await run_outbox_until(email_runtime, lambda: len(sink.to(customer)) == 1)
    sink.refusals = ["550 5.1.1 mailbox unavailable"]
    reply_id = await _reply(email_runtime, ticket, "Hello")
    await run_outbox_until(email_runtime, lambda: _settled(email_runtime, reply_id))
    message = await _message(email_runtime, reply_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "550" in (message.delivery_error or "")
    assert message.delivery_reason == "refused"
    assert await _job_status(email_runtime, reply_id) == OutboxStatus.DEAD


async def test_a_bounce_of_our_reply_marks_it_failed_and_opens_nothing(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    ticket, customer, _ = await _customer_ticket(email_runtime, smtp_server.port)
    reply_id = await _reply(email_runtime, ticket, "您的退款已到账。")
    await run_outbox_until(email_runtime, lambda: _settled(email_runtime, reply_id))
    [reply] = [d for d in sink.to(customer) if d.mail_from != "<>"]
    assert (await _message(email_runtime, reply_id)).delivery_status == DeliveryStatus.SENT

    # The customer's provider accepted it, then could not deliver: an RFC 3464 report.
    original_headers = reply.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    report = multipart_email(
        sender="MAILER-DAEMON@mx.example.cn",
        message_id=new_message_id(),
        subject="Undelivered Mail Returned to Sender",
        kind="report",
        extra_params="; report-type=delivery-status",
        extra={"Auto-Submitted": "auto-replied"},
        parts=[
            (
                {"Content-Type": "text/plain; charset=utf-8"},
                "邮件无法投递：收件人邮箱已满。 The mailbox is full.".encode(),
            ),
            (
                {"Content-Type": "message/delivery-status"},
                (
                    b"Reporting-MTA: dns; mx.example.cn\r\n\r\n"
                    b"Final-Recipient: rfc822; " + customer.encode() + b"\r\n"
                    b"Action: failed\r\nStatus: 5.2.2\r\n"
                    b"Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
                ),
            ),
            ({"Content-Type": "text/rfc822-headers"}, original_headers),
        ],
    )
    before = len(await messages_of(email_runtime, ticket.id))
    await send(smtp_server.port, report, mail_from="")

    message = await _message(email_runtime, reply_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "5.2.2" in (message.delivery_error or "")
    assert customer in (message.delivery_error or "")
    assert message.delivery_reason == "bounced"
    assert len(await messages_of(email_runtime, ticket.id)) == before
    async with email_runtime.db.transaction() as session:
        opened = await session.scalar(
            select(Ticket.id).where(Ticket.subject == "Undelivered Mail Returned to Sender")
        )
    assert opened is None


async def test_a_delay_notice_changes_nothing(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    ticket, customer, _ = await _customer_ticket(email_runtime, smtp_server.port)
    reply_id = await _reply(email_runtime, ticket, "Hello again")
    await run_outbox_until(email_runtime, lambda: _settled(email_runtime, reply_id))
    [reply] = [d for d in sink.to(customer) if d.mail_from != "<>"]
    report = multipart_email(
        sender="postmaster@mx.example.cn",
        message_id=new_message_id(),
        subject="Delayed Mail (still being retried)",
        kind="report",
        extra_params="; report-type=delivery-status",
        parts=[
            (
                {"Content-Type": "message/delivery-status"},
                b"Final-Recipient: rfc822; " + customer.encode() + b"\r\nAction: delayed\r\n"
                b"Status: 4.4.1\r\n",
            ),
            ({"Content-Type": "text/rfc822-headers"}, reply.raw.split(b"\r\n\r\n", 1)[0]),
        ],
    )
    await send(smtp_server.port, report, mail_from="")
    assert (await _message(email_runtime, reply_id)).delivery_status == DeliveryStatus.SENT


async def test_header_injection_through_a_subject_is_impossible(
    email_runtime: Runtime, email_settings: EmailSettings, sink: Sink
) -> None:
    victim = new_address()
    adapter = EmailAdapter(email_runtime, email_settings)
    message_id = new_message_id()
    await receive(
        email_runtime, email_settings, text_email(sender=new_address(), message_id=message_id)
    )
    ticket = await ticket_of(email_runtime, message_id)
    result = await adapter.send(
        OutboundMessage(
            channel="email",
            message_id=(await messages_of(email_runtime, ticket.id))[0].id,
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            subject=f"Refund\r\nBcc: {victim}\r\nX-Evil: 1\n\nbody",
            text="Hello",
            html="<p>Hello</p><script>alert(1)</script>",
            thread_key=ticket.thread_key,
            recipients={"email": "customer@example.cn"},
            idempotency_key="test-injection-" + new_message_id(),
        )
    )
    [delivered] = [d for d in sink.delivered if d.message["Message-ID"] == result.external_id]
    assert delivered.rcpt_tos == ["customer@example.cn"]
    mail = delivered.message
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert "Bcc:" in str(mail["Subject"])  # kept as harmless text on one line
    html = mail.get_body(("html",))
    assert html is not None and "script" not in html.get_content()
