"""Outbound SMTP (STARTTLS, implicit TLS, AUTH) and the IMAP poller over imaps, against real
servers on loopback whose certificate a private CA, made for the test, signed."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError
from sqlalchemy import select, update

from tests.channels.email import dovecot
from tests.channels.email.conftest import (
    Sink,
    make_settings,
    new_address,
    new_message_id,
    outbox_worker,
    run_outbox_until,
    ticket_of,
)
from tests.channels.email.mail import text_email
from tests.channels.email.tlscerts import TlsFiles, make_tls_files
from tests.conftest import make_agent
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.imap import ImapPoller
from walletdesk.channels.email.inbound import receive
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.tickets import queries
from walletdesk.core.tickets.models import DeliveryStatus, Message
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.runtime import Runtime

RELAY_USER = "walletdesk"
RELAY_PASSWORD = "relay-p@ss:word"  # quoted in the URL: @ and : must survive it
RELAY_PASSWORD_IN_URL = "relay-p%40ss%3Aword"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@dataclass
class Relay:
    """An SMTP relay that wants TLS and a login before it takes mail."""

    scheme: str  # "starttls" or "smtps"
    port: int = 0
    delivered: list[tuple[list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, succeeded)
    tls_on_data: list[bool] = field(default_factory=list)

    def to(self, customer: str) -> list[bytes]:
        # The database is shared by the whole session: earlier tests' jobs that were still
        # due go out through this relay too, so only this test's customer counts.
        return [raw for recipients, raw in self.delivered if customer in recipients]

    def url(self, user: str = RELAY_USER, password: str = RELAY_PASSWORD_IN_URL) -> str:
        if self.scheme == "smtps":
            return f"smtps://{user}:{password}@127.0.0.1:{self.port}"
        return f"smtp://{user}:{password}@127.0.0.1:{self.port}?starttls=true"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user = data.login.decode()
        ok = (user, data.password.decode()) == (RELAY_USER, RELAY_PASSWORD)
        self.logins.append((user, ok))
        # handled=False: aiosmtpd answers (235, or 535 on a failure) itself.
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        self.tls_on_data.append(server.transport.get_extra_info("ssl_object") is not None)
        raw = envelope.original_content or b""
        assert isinstance(raw, bytes)
        self.delivered.append((list(envelope.rcpt_tos), raw))
        return "250 2.0.0 OK"


@pytest.fixture(params=["starttls", "smtps"])
async def relay(request: pytest.FixtureRequest, tls_files: TlsFiles) -> AsyncIterator[Relay]:
    state = Relay(request.param)
    loop = asyncio.get_running_loop()
    context = tls_files.server_context()

    def protocol() -> SMTP:
        if state.scheme == "smtps":
            # The whole connection is TLS, which aiosmtpd's own check cannot see (it only
            # knows STARTTLS), so it warns; handle_DATA records that the socket was TLS.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return SMTP(
                    state,
                    hostname="relay.test",
                    loop=loop,
                    authenticator=state.authenticate,
                    auth_required=True,
                    auth_require_tls=False,
                )
        return SMTP(
            state,
            hostname="relay.test",
            loop=loop,
            tls_context=context,
            require_starttls=True,
            authenticator=state.authenticate,
            auth_required=True,
        )

    server = await loop.create_server(
        protocol, "127.0.0.1", 0, ssl=context if state.scheme == "smtps" else None
    )
    state.port = int(server.sockets[0].getsockname()[1])
    yield state
    server.close()
    await server.wait_closed()


def _settings(url: str, ca_file: Path | None, **overrides: object) -> EmailSettings:
    return make_settings(
        1,
        smtp_url=url,
        smtp_ca_file=str(ca_file) if ca_file else "",
        ack_enabled=False,  # only the agent's reply goes to the relay
        **overrides,
    )


async def _ticket_with_reply(runtime: Runtime, settings: EmailSettings) -> tuple[str, int]:
    """A customer's email ticket and an agent's public reply to it: (customer, reply id)."""
    runtime.channels.register(EmailAdapter(runtime, settings))
    customer, message_id = new_address(), new_message_id()
    await receive(runtime, settings, text_email(sender=customer, message_id=message_id))
    ticket = await ticket_of(runtime, message_id)
    agent = await make_agent(runtime.db, "agent", 1)
    async with runtime.db.transaction() as session:
        locked = await queries.get_ticket(session, agent.actor, ticket.number, for_update=True)
        reply = await post_agent_message(
            session,
            agent.actor,
            locked,
            body="您好，退款已处理。Your refund is done.",
            internal=False,
        )
        return customer, reply.id


async def _reply_state(runtime: Runtime, reply_id: int) -> tuple[str, str | None, str]:
    async with runtime.db.transaction() as session:
        message = await session.get(Message, reply_id)
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.idempotency_key == f"message:{reply_id}")
        )
    assert message is not None and job is not None
    return str(message.delivery_status), message.delivery_error, str(job.status)


async def _one_attempt(runtime: Runtime, reply_id: int) -> tuple[str, str | None, str]:
    await outbox_worker(runtime).run_once()
    return await _reply_state(runtime, reply_id)


async def _give_up(runtime: Runtime, reply_id: int) -> None:
    """The database outlives the test: a job left due would be sent by the next test's worker."""
    async with runtime.db.transaction() as session:
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.idempotency_key == f"message:{reply_id}")
            .values(status=OutboxStatus.DEAD)
        )


async def _sent(runtime: Runtime, reply_id: int) -> bool:
    return (await _reply_state(runtime, reply_id))[0] == DeliveryStatus.SENT


async def test_a_reply_goes_out_over_tls_with_a_login(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    settings = _settings(relay.url(), tls_files.ca_file)
    customer, reply_id = await _ticket_with_reply(runtime, settings)

    await run_outbox_until(runtime, lambda: _sent(runtime, reply_id))

    [raw] = relay.to(customer)
    assert b"Subject: Re: [#" in raw
    assert relay.tls_on_data and all(relay.tls_on_data)
    assert relay.logins and all(login == (RELAY_USER, True) for login in relay.logins)
    assert await _reply_state(runtime, reply_id) == (
        DeliveryStatus.SENT,
        None,
        OutboxStatus.DONE,
    )


async def test_a_wrong_password_is_shown_on_the_ticket_and_retried(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    settings = _settings(relay.url(password="wrong"), tls_files.ca_file)
    customer, reply_id = await _ticket_with_reply(runtime, settings)

    status, error, job = await _one_attempt(runtime, reply_id)

    # transport.py counts a refused login as temporary: fixed in the settings, a retry works.
    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and error.startswith("relay refused our login: 535"), error
    # aiosmtplib tries each mechanism the relay offers (PLAIN, then LOGIN); all are refused.
    assert relay.logins and all(login == (RELAY_USER, False) for login in relay.logins)
    assert relay.to(customer) == []

    # The password is corrected (a restart with new settings); the pending retry delivers.
    runtime.channels.register(EmailAdapter(runtime, _settings(relay.url(), tls_files.ca_file)))
    await run_outbox_until(runtime, lambda: _sent(runtime, reply_id))
    assert len(relay.to(customer)) == 1
    assert relay.logins[-1] == (RELAY_USER, True)


async def test_the_relay_certificate_must_be_trusted(runtime: Runtime, relay: Relay) -> None:
    # No WALLETDESK_SMTP_CA_FILE: the system store does not know the test CA.
    settings = _settings(relay.url(), None)
    _, reply_id = await _ticket_with_reply(runtime, settings)

    status, error, job = await _one_attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "certificate verify failed" in error, error
    # The password never crossed a connection whose other end we could not check.
    assert relay.logins == [] and relay.delivered == []
    await _give_up(runtime, reply_id)


async def test_verify_false_accepts_an_unknown_certificate(runtime: Runtime, relay: Relay) -> None:
    url = relay.url() + ("&" if "?" in relay.url() else "?") + "verify=false"
    settings = _settings(url, None)
    customer, reply_id = await _ticket_with_reply(runtime, settings)

    await run_outbox_until(runtime, lambda: _sent(runtime, reply_id))

    assert len(relay.to(customer)) == 1
    assert relay.tls_on_data and all(relay.tls_on_data)


async def test_starttls_required_never_falls_back_to_plain_text(
    runtime: Runtime, sink: Sink
) -> None:
    # The conftest sink offers no STARTTLS; `starttls=true` must refuse to send in the clear.
    url = f"smtp://{RELAY_USER}:{RELAY_PASSWORD_IN_URL}@127.0.0.1:{sink.port}?starttls=true"
    _, reply_id = await _ticket_with_reply(runtime, _settings(url, None))

    status, error, job = await _one_attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "STARTTLS" in error, error
    assert sink.attempts == 0
    await _give_up(runtime, reply_id)


@pytest.mark.parametrize("name", ["smtp_ca_file", "imap_ca_file"])
def test_a_missing_ca_file_is_refused_at_start_up(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError, match="is not a file"):
        make_settings(1, **{name: str(tmp_path / "nope.pem")})


# --- IMAP over implicit TLS -------------------------------------------------------------------


@pytest.fixture(scope="module")
def imaps_server(tls_files: TlsFiles) -> Iterator[dovecot.Dovecot]:
    dovecot.require()
    with dovecot.running_dovecot(tls=tls_files) as server:
        yield server


def _deliver_over_imaps(server: dovecot.Dovecot, tls_files: TlsFiles, folder: str) -> str:
    message_id = new_message_id()
    context = ssl.create_default_context(cafile=str(tls_files.ca_file))
    conn = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context)
    try:
        conn.login(dovecot.USER, dovecot.PASSWORD)
        conn.create(folder)
        raw = text_email(sender=new_address(), message_id=message_id)
        assert conn.append(folder, None, None, raw)[0] == "OK"
    finally:
        conn.logout()
    return message_id


def _imap_settings(url: str, folder: str, ca_file: Path | None) -> EmailSettings:
    return make_settings(
        1,
        imap_url=url.replace("/INBOX", f"/{folder}"),
        imap_ca_file=str(ca_file) if ca_file else "",
        ack_enabled=False,
    )


def test_the_test_imap_server_speaks_only_tls(imaps_server: dovecot.Dovecot) -> None:
    assert imaps_server.url.startswith("imaps://")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        # A plain-text client gets no greeting it understands on the imaps port.
        imaplib.IMAP4("127.0.0.1", imaps_server.port, timeout=5).logout()


async def test_the_poller_reads_a_mailbox_over_imaps(
    runtime: Runtime, imaps_server: dovecot.Dovecot, tls_files: TlsFiles
) -> None:
    folder = f"tls-{new_address().split('@')[0]}"
    message_id = await asyncio.to_thread(_deliver_over_imaps, imaps_server, tls_files, folder)

    # Without the CA the poll fails before logging in, and the message waits on the server.
    untrusted = _imap_settings(imaps_server.url, folder, None)
    runtime.channels.register(EmailAdapter(runtime, untrusted))
    with pytest.raises(ssl.SSLCertVerificationError):
        await ImapPoller(runtime, untrusted).poll_once()

    settings = _imap_settings(imaps_server.url, folder, tls_files.ca_file)
    runtime.channels.register(EmailAdapter(runtime, settings))
    assert await ImapPoller(runtime, settings).poll_once() == 1
    assert (await ticket_of(runtime, message_id)).channel == "email"
    assert await ImapPoller(runtime, settings).poll_once() == 0


async def test_imaps_with_verify_false_accepts_an_unknown_certificate(
    runtime: Runtime, imaps_server: dovecot.Dovecot, tls_files: TlsFiles
) -> None:
    folder = f"tls-{new_address().split('@')[0]}"
    message_id = await asyncio.to_thread(_deliver_over_imaps, imaps_server, tls_files, folder)
    settings = _imap_settings(imaps_server.url + "?verify=false", folder, None)
    runtime.channels.register(EmailAdapter(runtime, settings))
    assert await ImapPoller(runtime, settings).poll_once() == 1
    await ticket_of(runtime, message_id)
