"""Bad mail gets a clear SMTP answer or is kept as well as it can be; the server goes on."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest

from tests.channels.email.conftest import (
    email_row,
    make_settings,
    messages_of,
    new_address,
    new_message_id,
    send,
    ticket_of,
)
from tests.channels.email.mail import text_email
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.smtp_server import SmtpServerHandle, start_smtp_server
from walletdesk.core.attachments.storage import LocalFileStore
from walletdesk.core.events import InProcessEventBus
from walletdesk.db import Database
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings


def _nested(depth: int, message_id: str, sender: str) -> bytes:
    head = (
        f"From: {sender}\r\nTo: support@walletdesk.test\r\nSubject: nested\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    ).encode()
    body = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i - 1, i)
        for i in range(1, depth)
    )
    return head + body + b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep inside\r\n" % (depth - 1)


MALFORMED = {
    "8-bit garbage in headers": (
        b"From: \xff\xfe\xe4\xbd <{sender}>\r\nTo: support@walletdesk.test\r\n"
        b"Subject: \xd6\xd0\xce\xc4 \x00\x01 =?bogus?X?zz?=\r\nMessage-ID: {mid}\r\n\r\n"
        b"\xc4\xe3\xba\xc3\xa3\xac body in GBK without any charset\r\n"
    ),
    "no headers but From": b"From: {sender}\r\n\r\nplain body, no Message-ID, no MIME\r\n",
    "duplicate headers": (
        b"From: {sender}\r\nFrom: other@example.cn\r\nSubject: one\r\nSubject: two\r\n"
        b"Message-ID: {mid}\r\nMessage-ID: <second@example.cn>\r\nContent-Type: text/plain\r\n"
        b"Content-Type: text/html\r\n\r\nwhich is it\r\n"
    ),
    "multipart without boundary": (
        b"From: {sender}\r\nMessage-ID: {mid}\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--nothing\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    ),
    "broken base64 and unknown charset": (
        b"From: {sender}\r\nMessage-ID: {mid}\r\nContent-Type: text/plain; charset=x-klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!not base64 at all====\r\n"
    ),
    "header without colon and endless line": (
        b"From: {sender}\r\nMessage-ID: {mid}\r\nthis is not a header\r\nX-Long: "
        + b"a" * 900
        + b"\r\n\r\nbody\r\n"
    ),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_mail_is_taken_and_the_next_message_too(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, name: str
) -> None:
    sender, message_id = new_address(), new_message_id()
    raw = (
        MALFORMED[name].replace(b"{sender}", sender.encode()).replace(b"{mid}", message_id.encode())
    )
    await send(smtp_server.port, raw, mail_from=sender)

    following = new_message_id()
    await send(smtp_server.port, text_email(sender=new_address(), message_id=following))
    assert (await ticket_of(email_runtime, following)).channel == "email"


async def test_a_message_nested_thousands_deep_is_kept_as_text(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    sender, message_id = new_address(), new_message_id()
    await send(smtp_server.port, _nested(3000, message_id, sender), mail_from=sender)
    ticket = await ticket_of(email_runtime, message_id)
    [message] = await messages_of(email_runtime, ticket.id)
    assert "deep inside" in message.body_text
    assert (await email_row(email_runtime, message_id)).raw_key is not None


async def test_8bit_gbk_body_without_charset_is_read(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    sender, message_id = new_address(), new_message_id()
    raw = (
        f"From: {sender}\r\nMessage-ID: {message_id}\r\nSubject: ".encode()
        + "余额不对".encode("gbk")
        + b"\r\n\r\n"
        + "我的余额显示不对。".encode("gbk")
        + b"\r\n"
    )
    await send(smtp_server.port, raw, mail_from=sender)
    ticket = await ticket_of(email_runtime, message_id)
    assert ticket.subject == "余额不对"
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "我的余额显示不对。"


async def test_a_database_failure_answers_451_so_the_sender_retries(tmp_path: Path) -> None:
    """A node whose database has no schema: the email is not lost, the relay is told to retry."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    bus = InProcessEventBus()
    broken = Runtime(
        settings=Settings(data_dir=tmp_path, database_url=url, _env_file=None),  # type: ignore[call-arg]
        db=Database(url, bus=bus),
        bus=bus,
        files=LocalFileStore(tmp_path / "files"),
    )
    settings = make_settings(1)
    broken.channels.register(EmailAdapter(broken, settings))
    handle = await start_smtp_server(broken, settings)
    assert handle is not None
    try:
        raw = text_email(sender=new_address(), message_id=new_message_id())
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await send(handle.port, raw)
        assert refused.value.smtp_code == 451
    finally:
        await handle.close()
        await broken.close()


async def test_several_server_processes_share_the_port_and_a_taken_port_is_a_clear_error(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    shared = make_settings(1, smtp_listen=f"127.0.0.1:{smtp_server.port}")
    second = await start_smtp_server(email_runtime, shared)
    assert second is not None and second.port == smtp_server.port
    await second.close()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = make_settings(1, smtp_listen=f"127.0.0.1:{taken.getsockname()[1]}")
        with pytest.raises(RuntimeError, match="WALLETDESK_SMTP_LISTEN"):
            await start_smtp_server(email_runtime, busy)
    assert await start_smtp_server(email_runtime, make_settings(1, smtp_listen="")) is None
