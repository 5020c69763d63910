"""Outbound SMTP (STARTTLS, implicit TLS, AUTH) and the IMAP poller over imaps, against real
servers on loopback whose certificate a private CA, made for the test, signed."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

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
from tests.channels.email.relay import (
    RELAY_PASSWORD_IN_URL,
    RELAY_USER,
    Relay,
    relay,
    relay_settings,
    reply_state,
    sent,
    ticket_with_reply,
    tls_files,
)
from tests.channels.email.tlscerts import TlsFiles
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.imap import ImapPoller
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.outbox.models import OutboxStatus
from walletdesk.core.tickets.models import DeliveryStatus
from walletdesk.runtime import Runtime

__all__ = ["relay", "tls_files"]  # fixtures, used by name


async def _one_attempt(runtime: Runtime, reply_id: int) -> tuple[str, str | None, str]:
    await outbox_worker(runtime).run_once()
    return await reply_state(runtime, reply_id)


async def test_a_reply_goes_out_over_tls_with_a_login(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    settings = relay_settings(relay.url(), tls_files.ca_file)
    customer, reply_id = await ticket_with_reply(runtime, settings)

    await run_outbox_until(runtime, lambda: sent(runtime, reply_id))

    [raw] = relay.to(customer)
    assert b"Subject: Re: [#" in raw
    assert relay.tls_on_data and all(relay.tls_on_data)
    assert relay.logins and all(login == (RELAY_USER, True) for login in relay.logins)
    assert await reply_state(runtime, reply_id) == (
        DeliveryStatus.SENT,
        None,
        OutboxStatus.DONE,
    )


async def test_the_relay_certificate_must_be_trusted(runtime: Runtime, relay: Relay) -> None:
    # No WALLETDESK_SMTP_CA_FILE: the system store does not know the test CA.
    settings = relay_settings(relay.url(), None)
    _, reply_id = await ticket_with_reply(runtime, settings)

    status, error, job = await _one_attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "certificate verify failed" in error, error
    # The password never crossed a connection whose other end we could not check.
    assert relay.logins == [] and relay.delivered == []


async def test_verify_false_accepts_an_unknown_certificate(runtime: Runtime, relay: Relay) -> None:
    url = relay.url() + ("&" if "?" in relay.url() else "?") + "verify=false"
    settings = relay_settings(url, None)
    customer, reply_id = await ticket_with_reply(runtime, settings)

    await run_outbox_until(runtime, lambda: sent(runtime, reply_id))

    assert len(relay.to(customer)) == 1
    assert relay.tls_on_data and all(relay.tls_on_data)


async def test_starttls_required_never_falls_back_to_plain_text(
    runtime: Runtime, sink: Sink
) -> None:
    # The conftest sink offers no STARTTLS; `starttls=true` must refuse to send in the clear.
    url = f"smtp://{RELAY_USER}:{RELAY_PASSWORD_IN_URL}@127.0.0.1:{sink.port}?starttls=true"
    _, reply_id = await ticket_with_reply(runtime, relay_settings(url, None))

    status, error, job = await _one_attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "STARTTLS" in error, error
    assert sink.attempts == 0


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
