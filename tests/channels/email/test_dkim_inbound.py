"""Mail received over SMTP gets our own DKIM/DMARC verdict, stored and shown on the ticket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.channels.email.conftest import (
    TRUSTED_RELAY,
    Sink,
    email_row,
    make_settings,
    messages_of,
    send,
    ticket_of,
)
from tests.channels.email.dnszone import SILENT, SigningKey, loopback_dns, rsa_key, sign
from tests.channels.email.mail import text_email
from tests.conftest import make_agent, unique
from tests.console.conftest import sign_in
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.senderauth import IN_THREAD_MAX_BYTES
from walletdesk.channels.email.smtp_server import SmtpServerHandle, start_smtp_server
from walletdesk.core.contacts.service import SenderIdentity, resolve_contact
from walletdesk.runtime import Runtime

REJECT = "v=DMARC1; p=reject"
Server = Callable[..., Awaitable[SmtpServerHandle]]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key()


@pytest.fixture
async def server_with(runtime: Runtime, sink: Sink) -> AsyncIterator[Server]:
    """Our SMTP server on settings of the test's choosing."""
    handles: list[SmtpServerHandle] = []

    async def start(**overrides: object) -> SmtpServerHandle:
        settings = make_settings(sink.port, **overrides)
        runtime.channels.register(EmailAdapter(runtime, settings))
        handle = await start_smtp_server(runtime, settings)
        assert handle is not None
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await handle.close()


async def verified_customer(runtime: Runtime, key: SigningKey) -> tuple[str, str]:
    """A verified customer whose domain signs its mail and publishes a DMARC policy."""
    domain = f"{unique('w')}.com.cn"
    loopback_dns().publish(f"s1._domainkey.{domain}", key.record)
    loopback_dns().publish(f"_dmarc.{domain}", REJECT)
    address = f"{unique('c')}@{domain}"
    async with runtime.db.transaction() as session:
        await resolve_contact(session, SenderIdentity("email", address, "Li Si", verified=True))
    return address, domain


def signed_email(
    address: str, domain: str, key: SigningKey, body: str = "请帮我查一下这笔转账"
) -> tuple[str, bytes]:
    message_id = f"<{unique('m')}@{domain}>"
    raw = text_email(sender=address, message_id=message_id, subject="转账", body=body)
    return message_id, sign(raw, key, domain)


async def test_a_signed_email_of_a_verified_customer_passes_unflagged(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    server = await server_with()
    address, domain = await verified_customer(runtime, key)
    message_id, raw = signed_email(address, domain, key)
    await send(server.port, raw, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.spf, stored.dkim, stored.dmarc) == (None, "pass", "pass")
    assert not stored.auth_suspicious
    ticket = await ticket_of(runtime, message_id)
    assert not [m for m in await messages_of(runtime, ticket.id) if m.internal]


async def test_a_tampered_email_claiming_a_verified_customer_is_flagged_in_the_console(
    runtime: Runtime, server_with: Server, key: SigningKey, client: httpx.AsyncClient
) -> None:
    server = await server_with()
    address, domain = await verified_customer(runtime, key)
    message_id, raw = signed_email(address, domain, key, body="请把余额转到尾号 1234 的卡")
    tampered = raw.replace(
        text_email(sender="x@y.cn", message_id="<a@b>", body="请把余额转到尾号 1234 的卡")
        .split(b"\r\n\r\n", 1)[1]
        .strip(),
        text_email(sender="x@y.cn", message_id="<a@b>", body="请把余额转到尾号 9999 的卡")
        .split(b"\r\n\r\n", 1)[1]
        .strip(),
    )
    assert tampered != raw
    await send(server.port, tampered, mail_from=address)

    stored = await email_row(runtime, message_id)
    assert (stored.dkim, stored.dmarc) == ("fail", "fail")
    assert stored.auth_suspicious
    ticket = await ticket_of(runtime, message_id)

    agent = await make_agent(runtime.db, "agent", 1)
    await sign_in(client, agent)
    page = await client.get(f"/console/tickets/{ticket.number}")
    assert page.status_code == 200
    assert f"claims to come from the verified customer {address}" in page.text
    assert "DKIM=fail, DMARC=fail" in page.text
    assert "已验证客户" in page.text


async def test_dns_failing_still_stores_the_email_with_temperror(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    server = await server_with(email_dns_timeout_seconds=0.5)
    address, domain = await verified_customer(runtime, key)
    loopback_dns().break_name(f"s1._domainkey.{domain}", SILENT)
    message_id, raw = signed_email(address, domain, key)
    await send(server.port, raw, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.dkim, stored.dmarc) == ("temperror", "temperror")
    assert not stored.auth_suspicious  # our DNS trouble is no reason to doubt the customer
    ticket = await ticket_of(runtime, message_id)
    [message] = await messages_of(runtime, ticket.id)
    assert message.body_text == "请帮我查一下这笔转账"


async def test_a_dns_server_that_is_not_there_still_stores_the_email(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    # A port on loopback nobody listens on: every query is refused or times out.
    server = await server_with(email_dns_servers="127.0.0.1:9", email_dns_timeout_seconds=0.5)
    address, domain = await verified_customer(runtime, key)
    message_id, raw = signed_email(address, domain, key)
    await send(server.port, raw, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.dkim, stored.dmarc) == ("temperror", "temperror")
    assert (await ticket_of(runtime, message_id)).channel == "email"


async def test_a_trusted_relays_dkim_verdict_spares_our_check_in_auto_mode(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    server = await server_with()
    address, domain = await verified_customer(runtime, key)
    message_id, raw = signed_email(address, domain, key)
    relayed = (
        f"Authentication-Results: {TRUSTED_RELAY}; dkim=pass header.d={domain}; "
        "spf=pass; dmarc=pass\r\n"
    ).encode() + raw
    await send(server.port, relayed, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.spf, stored.dkim, stored.dmarc) == ("pass", "pass", "pass")
    assert loopback_dns().asked(f"s1._domainkey.{domain}") == 0


async def test_always_checks_even_behind_a_relay_and_never_does_not(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    address, domain = await verified_customer(runtime, key)
    # The relay says all is well, but the signature does not verify (forged or altered).
    message_id, raw = signed_email(address, domain, key)
    broken = raw.replace(b"Subject: ", b"Subject: Re: ", 1)
    relayed = (
        f"Authentication-Results: {TRUSTED_RELAY}; spf=softfail smtp.mailfrom={domain}; "
        "dkim=pass\r\n"
    ).encode() + broken
    always = await server_with(email_verify_dkim="always")
    await send(always.port, relayed, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.spf, stored.dkim, stored.dmarc) == ("softfail", "fail", "fail")
    assert stored.auth_suspicious

    never = await server_with(email_verify_dkim="never")
    other_id, raw = signed_email(address, domain, key)
    await send(never.port, raw, mail_from=address)
    stored = await email_row(runtime, other_id)
    assert (stored.spf, stored.dkim, stored.dmarc) == (None, None, None)


async def test_a_big_signed_email_is_checked_in_the_helper_process(
    runtime: Runtime, server_with: Server, key: SigningKey
) -> None:
    server = await server_with()
    address, domain = await verified_customer(runtime, key)
    body = "附件是转账截图。\n" + "流水号 0000000000 金额 100.00 元\n" * (IN_THREAD_MAX_BYTES // 40)
    message_id, raw = signed_email(address, domain, key, body=body)
    assert len(raw) > IN_THREAD_MAX_BYTES
    await send(server.port, raw, mail_from=address)
    stored = await email_row(runtime, message_id)
    assert (stored.dkim, stored.dmarc) == ("pass", "pass")
