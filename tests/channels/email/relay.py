"""An outbound relay on loopback that wants TLS and a login, as real submission relays do,
and the steps of sending one agent's reply through it. Shared by test_tls and
test_relay_auth (import the fixtures by name)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import select

from tests.channels.email.conftest import make_settings, new_address, new_message_id, ticket_of
from tests.channels.email.mail import text_email
from tests.channels.email.tlscerts import TlsFiles, make_tls_files
from tests.conftest import make_agent
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.inbound import receive
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.outbox.models import OutboxJob
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
        return [raw for recipients, raw in self.delivered if customer in recipients]

    def url(self, user: str = RELAY_USER, password: str = RELAY_PASSWORD_IN_URL) -> str:
        """The WALLETDESK_SMTP_URL of this relay; user "" leaves the login out."""
        login = f"{user}:{password}@" if user else ""
        if self.scheme == "smtps":
            return f"smtps://{login}127.0.0.1:{self.port}"
        return f"smtp://{login}127.0.0.1:{self.port}?starttls=true"

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


def relay_settings(url: str, ca_file: Path | None, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {"ack_enabled": False}  # only the agent's reply goes out
    values.update(overrides)
    return make_settings(1, smtp_url=url, smtp_ca_file=str(ca_file) if ca_file else "", **values)


async def ticket_with_reply(runtime: Runtime, settings: EmailSettings) -> tuple[str, int]:
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


async def reply_job(runtime: Runtime, reply_id: int) -> OutboxJob:
    async with runtime.db.transaction() as session:
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.idempotency_key == f"message:{reply_id}")
        )
    assert job is not None
    return job


async def reply_state(runtime: Runtime, reply_id: int) -> tuple[str, str | None, str]:
    """(the reply's delivery status, its delivery error, its outbox job's status)."""
    async with runtime.db.transaction() as session:
        message = await session.get(Message, reply_id)
    assert message is not None
    job = await reply_job(runtime, reply_id)
    return str(message.delivery_status), message.delivery_error, str(job.status)


async def sent(runtime: Runtime, reply_id: int) -> bool:
    return (await reply_state(runtime, reply_id))[0] == DeliveryStatus.SENT
