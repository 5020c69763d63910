"""A relay refusing authentication is a setting to fix, never the reply's fault: 530 (no login
in WALLETDESK_SMTP_URL), 535 (a wrong password) and a relay offering no login at all keep the
reply waiting, with what to check on the ticket, until the settings are right; then it goes
out. Against the real aiosmtpd relay of relay.py, over TLS as a submission relay wants it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select, update

from tests.channels.email.conftest import (
    MAX_ROUNDS,
    TINY_BACKOFF,
    new_address,
    new_message_id,
    outbox_worker,
    run_outbox_until,
    ticket_of,
)
from tests.channels.email.mail import text_email
from tests.channels.email.relay import (
    RELAY_USER,
    Relay,
    relay,
    relay_settings,
    reply_job,
    reply_state,
    sent,
    ticket_with_reply,
    tls_files,
)
from tests.channels.email.tlscerts import TlsFiles
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.inbound import receive
from walletdesk.channels.email.jobs import EMAIL_ACK
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.tickets.models import DeliveryStatus
from walletdesk.runtime import Runtime

__all__ = ["relay", "tls_files"]  # fixtures, used by name

WRONG_PASSWORD = "wrong-p@ssword"
WRONG_PASSWORD_IN_URL = "wrong-p%40ssword"


async def _attempt(runtime: Runtime, reply_id: int) -> tuple[str, str | None, str]:
    await outbox_worker(runtime).run_once()
    return await reply_state(runtime, reply_id)


def _relay_warnings(caplog: pytest.LogCaptureFixture, *secrets: str) -> list[str]:
    """What the transport warned; no line logged anywhere holds the password."""
    for record in caplog.records:
        text = record.getMessage()
        assert not any(secret in text for secret in secrets), text
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "walletdesk.channels.email.transport" and r.levelno == logging.WARNING
    ]


async def _fix_settings(runtime: Runtime, relay: Relay, tls_files: TlsFiles) -> None:
    """The admin corrects WALLETDESK_SMTP_URL and restarts: the node's adapter is rebuilt."""
    runtime.channels.register(EmailAdapter(runtime, relay_settings(relay.url(), tls_files.ca_file)))


async def test_a_relay_wanting_a_login_we_do_not_give_keeps_the_reply_waiting(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    # WALLETDESK_SMTP_URL without user and password: the relay answers MAIL FROM with 530.
    settings = relay_settings(relay.url(user=""), tls_files.ca_file)
    customer, reply_id = await ticket_with_reply(runtime, settings)

    with caplog.at_level(logging.WARNING):
        status, error, job = await _attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None
    assert f"relay 127.0.0.1:{relay.port} refused authentication (530" in error, error
    assert "WALLETDESK_SMTP_URL has no user name and password" in error, error
    assert error.endswith("retried until the relay settings are fixed"), error
    [warning] = _relay_warnings(caplog)
    assert "refused authentication (530" in warning and "WALLETDESK_SMTP_URL" in warning
    assert relay.logins == [] and relay.to(customer) == []

    await _fix_settings(runtime, relay, tls_files)
    await run_outbox_until(runtime, lambda: sent(runtime, reply_id))
    assert len(relay.to(customer)) == 1
    assert await reply_state(runtime, reply_id) == (
        DeliveryStatus.SENT,
        None,
        OutboxStatus.DONE,
    )


async def test_a_wrong_password_is_shown_on_the_ticket_and_retried(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    settings = relay_settings(relay.url(password=WRONG_PASSWORD_IN_URL), tls_files.ca_file)
    customer, reply_id = await ticket_with_reply(runtime, settings)

    with caplog.at_level(logging.WARNING):
        status, error, job = await _attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None
    assert f"relay 127.0.0.1:{relay.port} refused authentication (535" in error, error
    assert f"check the user name ({RELAY_USER}) and the password" in error, error
    assert WRONG_PASSWORD not in error and WRONG_PASSWORD_IN_URL not in error
    [warning] = _relay_warnings(caplog, WRONG_PASSWORD, WRONG_PASSWORD_IN_URL)
    assert "refused authentication (535" in warning
    # aiosmtplib tries each mechanism the relay offers (PLAIN, then LOGIN); all are refused.
    assert relay.logins and all(login == (RELAY_USER, False) for login in relay.logins)
    assert relay.to(customer) == []

    await _fix_settings(runtime, relay, tls_files)
    await run_outbox_until(runtime, lambda: sent(runtime, reply_id))
    assert len(relay.to(customer)) == 1
    assert relay.logins[-1] == (RELAY_USER, True)


@pytest.mark.parametrize("relay", ["starttls"], indirect=True)
async def test_a_relay_offering_no_login_says_what_to_check(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    # STARTTLS turned off: this relay offers AUTH only on a TLS connection.
    url = relay.url().replace("starttls=true", "starttls=false")
    _, reply_id = await ticket_with_reply(runtime, relay_settings(url, tls_files.ca_file))

    status, error, job = await _attempt(runtime, reply_id)

    assert (status, job) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "refused authentication (no AUTH offered)" in error, error
    assert "?starttls=true" in error
    assert relay.logins == [] and relay.delivered == []


async def test_refused_logins_never_use_up_the_replys_attempts(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    """However long the admin takes, the reply is still there to go out once the login works."""
    settings = relay_settings(relay.url(user=""), tls_files.ca_file)
    customer, reply_id = await ticket_with_reply(runtime, settings)
    job = await reply_job(runtime, reply_id)
    async with runtime.db.transaction() as session:
        # Two attempts for this job: the five refusals below would have killed it twice over.
        await session.execute(
            update(OutboxJob).where(OutboxJob.id == job.id).values(max_attempts=2)
        )

    worker, tries = outbox_worker(runtime), 0
    for _ in range(MAX_ROUNDS):
        tries += await worker.run_once()  # no other job is waiting: each one is this reply
        if tries == 5:
            break
        await asyncio.sleep(TINY_BACKOFF)
    assert tries == 5

    status, error, job_status = await reply_state(runtime, reply_id)
    assert (status, job_status) == (DeliveryStatus.PENDING, OutboxStatus.PENDING)
    assert error is not None and "refused authentication (530" in error, error
    assert (await reply_job(runtime, reply_id)).attempts < 2  # the last one is kept in hand

    await _fix_settings(runtime, relay, tls_files)
    await run_outbox_until(runtime, lambda: sent(runtime, reply_id))
    assert len(relay.to(customer)) == 1


async def test_an_acknowledgement_is_not_kept_waiting_for_the_settings(
    runtime: Runtime, relay: Relay, tls_files: TlsFiles
) -> None:
    """A greeting hours late, after the agent's answer perhaps, is worse than none."""
    settings = relay_settings(relay.url(user=""), tls_files.ca_file, ack_enabled=True)
    runtime.channels.register(EmailAdapter(runtime, settings))
    message_id = new_message_id()
    await receive(runtime, settings, text_email(sender=new_address(), message_id=message_id))
    ticket = await ticket_of(runtime, message_id)

    async def ack() -> OutboxJob:
        async with runtime.db.transaction() as session:
            job = await session.scalar(
                select(OutboxJob).where(
                    OutboxJob.ticket_id == ticket.id, OutboxJob.kind == EMAIL_ACK
                )
            )
        assert job is not None
        return job

    async def gave_up() -> bool:
        return (await ack()).status == OutboxStatus.DEAD

    await run_outbox_until(runtime, gave_up)
    job = await ack()
    assert job.attempts == job.max_attempts
    assert job.last_error is not None and "refused authentication (530" in job.last_error
    assert "the acknowledgement is not kept waiting" in job.last_error
    assert relay.delivered == []
