"""Real SMTP into our aiosmtpd server: tickets, threading, acknowledgements, refusals."""

from __future__ import annotations

import re
import smtplib

import pytest
from sqlalchemy import select

from tests.channels.email.conftest import (
    COMPLAINTS,
    SUPPORT,
    Sink,
    email_row,
    messages_of,
    new_address,
    new_message_id,
    run_outbox_until,
    send,
    ticket_of,
)
from tests.channels.email.mail import encoded_word, text_email
from walletdesk.channels.email import service
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.email.smtp_server import SmtpServerHandle
from walletdesk.core.outbox.service import jobs_for_ticket
from walletdesk.core.tickets.models import Category, Message
from walletdesk.runtime import Runtime


async def _ack_jobs(runtime: Runtime, ticket_id: int) -> list[str]:
    async with runtime.db.transaction() as session:
        jobs = await jobs_for_ticket(session, ticket_id)
    return [job.idempotency_key for job in jobs if job.kind == "email_ack"]


async def test_a_new_email_opens_a_ticket_and_is_acknowledged_once(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    customer, message_id = new_address(), new_message_id()
    raw = text_email(
        sender=customer,
        sender_name="Zhang San",
        message_id=message_id,
        subject="My transfer to a bank card failed",
        body="I sent 500 CNY yesterday and it never arrived.\n\n-- \nZhang San\n",
    )
    await send(smtp_server.port, raw, mail_from=customer)

    ticket = await ticket_of(email_runtime, message_id)
    assert ticket.channel == "email"
    assert ticket.subject == "My transfer to a bank card failed"
    assert ticket.thread_key == message_id
    assert ticket.locale == "en"
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "I sent 500 CNY yesterday and it never arrived."
    assert message.external_id == message_id

    await run_outbox_until(email_runtime, lambda: bool(sink.to(customer)))
    [ack] = sink.to(customer)
    assert ack.mail_from == "<>"  # the null return path: an acknowledgement never bounces back
    mail = ack.message
    assert f"[#{ticket.number}]" in str(mail["Subject"])
    assert mail["In-Reply-To"] == message_id
    assert message_id in str(mail["References"])
    assert mail["Auto-Submitted"] == "auto-replied"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert ticket.number in text
    assert "within 1 business day" in text

    # The same email delivered again is stored once and not acknowledged again.
    await send(smtp_server.port, raw, mail_from=customer)
    assert len(await messages_of(email_runtime, ticket.id)) == 1
    assert len(await _ack_jobs(email_runtime, ticket.id)) == 1


async def test_a_chinese_email_gets_a_chinese_acknowledgement_and_its_address_category(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    customer, message_id = new_address(), new_message_id()
    raw = text_email(
        sender=customer,
        message_id=message_id,
        subject=encoded_word("投诉：扣费两次", "gbk"),
        body="你好，我的账户被重复扣费了两次，请尽快处理。",
        to=COMPLAINTS,
    )
    await send(smtp_server.port, raw, mail_from=customer, to=(COMPLAINTS,))
    ticket = await ticket_of(email_runtime, message_id)
    assert ticket.subject == "投诉：扣费两次"
    assert ticket.category == Category.COMPLAINT
    assert ticket.locale == "zh-CN"
    await run_outbox_until(email_runtime, lambda: bool(sink.to(customer)))
    body = sink.to(customer)[0].message.get_body(("plain",))
    assert body is not None
    assert "我们已收到您的邮件" in body.get_content()


async def test_a_reply_quoting_the_ticket_number_joins_the_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    customer, first_id = new_address(), new_message_id()
    await send(
        smtp_server.port,
        text_email(sender=customer, message_id=first_id, subject="Card binding fails"),
    )
    ticket = await ticket_of(email_runtime, first_id)

    second_id = new_message_id()
    await send(
        smtp_server.port,
        text_email(
            sender=customer,
            message_id=second_id,
            subject=f"Re: [#{ticket.number}] Card binding fails",
            body="Here is the error code: E1024",
        ),
    )
    assert (await ticket_of(email_runtime, second_id)).id == ticket.id
    messages = await messages_of(email_runtime, ticket.id)
    assert [m.body_text for m in messages][-1] == "Here is the error code: E1024"
    # A follow-up on an existing ticket is not acknowledged.
    assert len(await _ack_jobs(email_runtime, ticket.id)) == 1


async def test_a_reply_found_by_in_reply_to_alone_joins_the_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    customer, first_id = new_address(), new_message_id()
    await send(
        smtp_server.port,
        text_email(sender=customer, message_id=first_id, subject="Refund question"),
    )
    ticket = await ticket_of(email_runtime, first_id)

    second_id, third_id = new_message_id(), new_message_id()
    await send(
        smtp_server.port,
        text_email(
            sender=customer,
            message_id=second_id,
            subject="Re: Refund question",
            body="Any news?",
            extra={"In-Reply-To": first_id},
        ),
    )
    # The third answers the second: References lead back to the thread through it.
    await send(
        smtp_server.port,
        text_email(
            sender=customer,
            message_id=third_id,
            subject="Re: Re: Refund question",
            body="Still waiting.",
            extra={"References": f"<unknown@elsewhere.test> {second_id}"},
        ),
    )
    assert (await ticket_of(email_runtime, second_id)).id == ticket.id
    assert (await ticket_of(email_runtime, third_id)).id == ticket.id
    assert [m.body_text for m in await messages_of(email_runtime, ticket.id)][1:] == [
        "Any news?",
        "Still waiting.",
    ]


async def test_a_reply_to_a_stranger_thread_opens_its_own_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    """References to mail we never saw (a newsletter) must not merge customers' emails."""
    shared_root = new_message_id()
    ids = [new_message_id(), new_message_id()]
    for message_id in ids:
        await send(
            smtp_server.port,
            text_email(
                sender=new_address(),
                message_id=message_id,
                subject="Re: Our newsletter",
                extra={"In-Reply-To": shared_root, "References": shared_root},
            ),
        )
    first, second = [await ticket_of(email_runtime, i) for i in ids]
    assert first.id != second.id


async def test_chinese_quote_header_and_signature_are_cut_and_the_original_kept(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    customer, message_id = new_address(), new_message_id()
    body = (
        "好的，我已经重新绑定了银行卡，还是失败。\n"
        "\n"
        "发自我的iPhone\n"
        "\n"
        "在 2026年11月26日 周四 10:02,张三 <zs@example.cn> 写道:\n"
        "> 请您重新绑定银行卡后再试一次。\n"
        "> 客服小王\n"
    )
    await send(
        smtp_server.port,
        text_email(
            sender=customer, message_id=message_id, subject="银行卡绑定", body=body, charset="gbk"
        ),
    )
    ticket = await ticket_of(email_runtime, message_id)
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "好的，我已经重新绑定了银行卡，还是失败。"
    stored = await email_row(email_runtime, message_id)
    assert stored.full_text is not None and "请您重新绑定银行卡后再试一次" in stored.full_text
    assert stored.raw_key is not None
    raw = await email_runtime.files.get(stored.raw_key)
    assert message_id.encode() in raw


AUTOMATIC_HEADERS = [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"Precedence": "list"},
    {"X-Autoreply": "yes"},
    {"X-Auto-Response-Suppress": "OOF, AutoReply"},
    {"List-Id": "<news.example.cn>"},
]


@pytest.mark.parametrize("extra", AUTOMATIC_HEADERS, ids=lambda h: next(iter(h.items()))[1])
async def test_automatic_mail_is_stored_but_never_answered(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, extra: dict[str, str]
) -> None:
    customer, message_id = new_address(), new_message_id()
    await send(
        smtp_server.port,
        text_email(sender=customer, message_id=message_id, subject="Out of office", extra=extra),
    )
    ticket = await ticket_of(email_runtime, message_id)
    assert await _ack_jobs(email_runtime, ticket.id) == []


async def test_mail_from_the_null_return_path_is_never_answered(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    customer, message_id = new_address(), new_message_id()
    await send(
        smtp_server.port,
        text_email(sender=customer, message_id=message_id, subject="Vacation"),
        mail_from="",
    )
    ticket = await ticket_of(email_runtime, message_id)
    assert await _ack_jobs(email_runtime, ticket.id) == []


async def test_auto_submitted_no_is_a_person_and_is_answered(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    customer, message_id = new_address(), new_message_id()
    await send(
        smtp_server.port,
        text_email(
            sender=customer, message_id=message_id, extra={"Auto-Submitted": "no"}, subject="Hi"
        ),
    )
    ticket = await ticket_of(email_runtime, message_id)
    assert len(await _ack_jobs(email_runtime, ticket.id)) == 1


async def test_the_loop_breaker_stops_acknowledging_a_chatty_sender(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, email_settings: EmailSettings
) -> None:
    """An auto-responder that answers every acknowledgement with a new email gets N, then none."""
    customer = new_address()
    limit = email_settings.autoreply_limit_per_hour
    for n in range(limit + 2):
        await send(
            smtp_server.port,
            text_email(sender=customer, message_id=new_message_id(), subject=f"Question {n}"),
        )
    async with email_runtime.db.transaction() as session:
        assert await service.auto_replies_to(session, customer) == limit


async def test_our_own_mail_coming_back_is_not_a_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    message_id = new_message_id()
    await send(
        smtp_server.port, text_email(sender=SUPPORT, message_id=message_id), mail_from=SUPPORT
    )
    async with email_runtime.db.transaction() as session:
        assert not await service.is_known(session, message_id)
        found = await session.scalar(select(Message.id).where(Message.external_id == message_id))
    assert found is None


async def test_unknown_recipient_is_refused_with_550(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    raw = text_email(sender=new_address(), message_id=new_message_id())
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(smtp_server.port, raw, to=("nobody@walletdesk.test",))
    [(code, text)] = refused.value.recipients.values()
    assert code == 550
    assert b"no such support address" in text


async def test_an_oversize_email_is_refused_with_552_and_the_next_one_is_taken(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, email_settings: EmailSettings
) -> None:
    customer = new_address()
    big = text_email(
        sender=customer,
        message_id=new_message_id(),
        body="x" * (email_settings.max_message_bytes + 1024),
        cte="quoted-printable",
    )
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        await send(smtp_server.port, big)
    assert refused.value.smtp_code == 552

    message_id = new_message_id()
    await send(smtp_server.port, text_email(sender=customer, message_id=message_id))
    assert (await ticket_of(email_runtime, message_id)).channel == "email"


async def test_a_sender_without_an_address_is_refused_and_the_next_one_is_taken(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    raw = text_email(sender="not an address", message_id=new_message_id())
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(smtp_server.port, raw, mail_from="")
    assert refused.value.smtp_code == 550

    message_id = new_message_id()
    await send(smtp_server.port, text_email(sender=new_address(), message_id=message_id))
    assert (await ticket_of(email_runtime, message_id)).channel == "email"


async def test_the_acknowledgement_suggests_help_articles_that_may_answer(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, sink: Sink
) -> None:
    from walletdesk.helpcenter.transfer import seed_default_articles

    async with email_runtime.db.transaction() as session:
        await seed_default_articles(session)
    email_runtime.settings.base_url = "https://desk.example"
    customer, message_id = new_address(), new_message_id()
    raw = text_email(
        sender=customer,
        sender_name="李雷",
        message_id=message_id,
        subject="账户被冻结了",
        body="我的钱包账户今天突然被冻结，无法付款，怎么解冻？",
    )
    await send(smtp_server.port, raw, mail_from=customer)
    await run_outbox_until(email_runtime, lambda: bool(sink.to(customer)))
    [ack] = sink.to(customer)
    body = ack.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "这些帮助文章也许已经能解答您的问题" in text
    assert "https://desk.example/help/zh-CN/articles/" in text
    # The links name the question, so "this solved it" on the article page counts for email.
    link = re.search(r"https://desk\.example/help/zh-CN/articles/[\w-]+\?s=([\w-]+)", text)
    assert link is not None
    from walletdesk.helpcenter.models import DeflectionEvent

    async with email_runtime.db.transaction() as session:
        shown = (
            await session.execute(
                select(DeflectionEvent.channel, DeflectionEvent.outcome).where(
                    DeflectionEvent.suggestion_id == link.group(1)
                )
            )
        ).all()
    assert shown == [("email", "shown")]
