"""Fixtures of the email tests: our SMTP server on a free port, a relay sink, the outbox."""

from __future__ import annotations

import asyncio
import email
import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import Message as MimeMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from tests.channels.email.dnszone import loopback_dns
from tests.conftest import unique
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.jobs import email_job_handlers
from walletdesk.channels.email.models import EmailMessage
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.email.smtp_server import SmtpServerHandle, start_smtp_server
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.core.tickets.service import DELIVER_MESSAGE
from walletdesk.core.tickets.tasks import DeliverMessage
from walletdesk.runtime import Runtime

SUPPORT = "support@walletdesk.test"
COMPLAINTS = "complaints@walletdesk.test"
TRUSTED_RELAY = "mx.walletdesk.test"
MAX_TEST_MESSAGE_BYTES = 2 * 1024 * 1024
TINY_BACKOFF = 0.005
MAX_ROUNDS = 400


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> MimeMessage:
        return email.message_from_bytes(self.raw, policy=default_policy)


@dataclass
class Sink:
    """An SMTP relay on loopback that keeps what it is given, or refuses as scripted."""

    port: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    # Replies to give DATA before accepting, e.g. ["451 4.3.0 busy", "451 4.3.0 busy"].
    refusals: list[str] = field(default_factory=list)
    attempts: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.refusals:
            return self.refusals.pop(0)
        raw = envelope.original_content or b""
        assert isinstance(raw, bytes)
        self.delivered.append(Delivered(envelope.mail_from or "", list(envelope.rcpt_tos), raw))
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[Delivered]:
        return [d for d in self.delivered if address in d.rcpt_tos]


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
    await server.wait_closed()


def make_settings(sink_port: int, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {
        "smtp_listen": "127.0.0.1:0",
        "support_addresses": f"{SUPPORT},{COMPLAINTS}=complaint",
        "smtp_url": f"smtp://127.0.0.1:{sink_port}?starttls=false",
        "mail_from": SUPPORT,
        "trusted_authserv_ids": TRUSTED_RELAY,
        "max_message_bytes": MAX_TEST_MESSAGE_BYTES,
        "autoreply_limit_per_hour": 3,
        # Our own DKIM/DMARC check asks the loopback DNS server, never the internet.
        "email_dns_servers": loopback_dns().servers,
    }
    values.update(overrides)
    return EmailSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
def email_settings(sink: Sink) -> EmailSettings:
    return make_settings(sink.port)


@pytest.fixture
def email_runtime(runtime: Runtime, email_settings: EmailSettings) -> Runtime:
    """The test runtime with the email adapter built on the test settings."""
    runtime.channels.register(EmailAdapter(runtime, email_settings))
    return runtime


@pytest.fixture
async def smtp_server(
    email_runtime: Runtime, email_settings: EmailSettings
) -> AsyncIterator[SmtpServerHandle]:
    handle = await start_smtp_server(email_runtime, email_settings)
    assert handle is not None
    yield handle
    await handle.close()


def smtp_send(
    port: int, raw: bytes, *, mail_from: str = "", to: tuple[str, ...] = (SUPPORT,)
) -> None:
    """Send like a relay would: a real SMTP client on loopback (blocking: run it in a thread)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(mail_from, list(to), raw)


async def send(
    port: int,
    raw: bytes,
    *,
    mail_from: str = "customer@example.cn",
    to: tuple[str, ...] = (SUPPORT,),
) -> None:
    await asyncio.to_thread(smtp_send, port, raw, mail_from=mail_from, to=to)


def new_message_id() -> str:
    return f"<{unique('m')}@mail.example.cn>"


def new_address() -> str:
    return f"{unique('c')}@example.cn"


async def ticket_of(runtime: Runtime, message_id: str) -> Ticket:
    async with runtime.db.transaction() as session:
        ticket = await session.scalar(
            select(Ticket)
            .join(EmailMessage, EmailMessage.ticket_id == Ticket.id)
            .where(EmailMessage.message_id_header == message_id)
        )
    assert ticket is not None, f"no ticket for {message_id}"
    return ticket


async def messages_of(runtime: Runtime, ticket_id: int) -> list[Message]:
    async with runtime.db.transaction() as session:
        rows = await session.scalars(
            select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)
        )
        return list(rows.all())


async def email_row(runtime: Runtime, message_id: str) -> EmailMessage:
    async with runtime.db.transaction() as session:
        row = await session.scalar(
            select(EmailMessage).where(EmailMessage.message_id_header == message_id)
        )
    assert row is not None
    return row


def outbox_worker(runtime: Runtime) -> OutboxWorker:
    handlers = {
        DELIVER_MESSAGE: DeliverMessage(runtime.db, runtime.channels),
        **email_job_handlers(runtime),
    }
    return OutboxWorker(runtime.db, handlers, backoff_base=TINY_BACKOFF)


async def run_outbox_until(runtime: Runtime, done: Callable[[], Awaitable[bool] | bool]) -> None:
    """Run outbox rounds until `done()`; retries are due a few milliseconds later."""
    worker = outbox_worker(runtime)
    for _ in range(MAX_ROUNDS):
        await worker.run_once()
        outcome = done()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        await asyncio.sleep(TINY_BACKOFF)
    raise AssertionError("the outbox did not get there")
