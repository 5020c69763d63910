"""The IMAP poller against a real dovecot on loopback: no misses, no duplicates, across restarts."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from tests.channels.email import dovecot
from tests.channels.email.conftest import (
    email_row,
    make_settings,
    new_address,
    new_message_id,
    ticket_of,
)
from tests.channels.email.dnszone import loopback_dns, rsa_key, sign
from tests.channels.email.mail import text_email
from tests.conftest import unique
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.imap import ImapPoller
from walletdesk.channels.email.models import EmailAutoReply, EmailMailbox
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.tickets.models import Message
from walletdesk.runtime import Runtime


@pytest.fixture(scope="module")
def imap_server() -> Iterator[dovecot.Dovecot]:
    dovecot.require()
    with dovecot.running_dovecot() as server:
        yield server


class Mailbox:
    """The customer side: mail lands in the support mailbox (APPEND, as a delivery agent would)."""

    def __init__(self, server: dovecot.Dovecot, folder: str) -> None:
        self.conn = imaplib.IMAP4("127.0.0.1", server.port)
        self.conn.login(dovecot.USER, dovecot.PASSWORD)
        self.folder = folder
        self.conn.create(folder)

    def deliver(self, raw: bytes) -> None:
        status, _ = self.conn.append(self.folder, None, None, raw)
        assert status == "OK"

    def flags(self) -> list[bytes]:
        self.conn.select(self.folder)
        _, data = self.conn.fetch("1:*", "(FLAGS)")
        return [item for item in data if isinstance(item, bytes)]

    def count(self, folder: str) -> int:
        status, data = self.conn.select(folder)
        assert status == "OK"
        return int(data[0] or 0)

    def close(self) -> None:
        self.conn.logout()


def _settings(server: dovecot.Dovecot, folder: str, **overrides: object) -> EmailSettings:
    url = server.url.replace("/INBOX", f"/{folder}")
    return make_settings(1, imap_url=url, **overrides)


async def _stored(runtime: Runtime, ids: list[str]) -> int:
    async with runtime.db.transaction() as session:
        count = await session.scalar(
            select(func.count(Message.id)).where(
                Message.channel == "email", Message.external_id.in_(ids)
            )
        )
    return int(count or 0)


async def test_poller_restarts_without_missing_or_doubling_mail(
    runtime: Runtime, imap_server: dovecot.Dovecot
) -> None:
    folder = f"support-{new_address().split('@')[0]}"
    mailbox = Mailbox(imap_server, folder)
    settings = _settings(imap_server, folder)
    runtime.channels.register(EmailAdapter(runtime, settings))
    try:
        ids = [new_message_id() for _ in range(5)]
        for message_id in ids[:3]:
            mailbox.deliver(text_email(sender=new_address(), message_id=message_id))

        first = ImapPoller(runtime, settings, batch_size=2)
        assert await first.poll_once() == 2
        assert await first.poll_once() == 1
        assert await first.poll_once() == 0
        assert await _stored(runtime, ids[:3]) == 3
        assert all(b"\\Seen" in flags for flags in mailbox.flags())

        # More mail arrives while the worker is down; a new poller takes over from the database.
        for message_id in ids[3:]:
            mailbox.deliver(text_email(sender=new_address(), message_id=message_id))
        restarted = ImapPoller(runtime, settings)
        assert await restarted.poll_once() == 2
        assert await _stored(runtime, ids) == 5
        assert len({(await ticket_of(runtime, i)).id for i in ids}) == 5

        # A crash after ingest but before the UID was recorded: everything is fetched again,
        # and still stored and acknowledged once.
        async with runtime.db.transaction() as session:
            await session.execute(
                update(EmailMailbox).where(EmailMailbox.mailbox == restarted.key).values(last_uid=0)
            )
        assert await ImapPoller(runtime, settings).poll_once() == 5
        assert await _stored(runtime, ids) == 5
        async with runtime.db.transaction() as session:
            acks = await session.scalar(
                select(func.count(EmailAutoReply.id)).where(EmailAutoReply.in_reply_to.in_(ids))
            )
        assert acks == 5
    finally:
        mailbox.close()


async def test_processed_mail_is_moved_to_its_folder(
    runtime: Runtime, imap_server: dovecot.Dovecot
) -> None:
    folder = f"inbox-{new_address().split('@')[0]}"
    done_folder = f"{folder}-done"
    mailbox = Mailbox(imap_server, folder)
    mailbox.conn.create(done_folder)
    settings = _settings(imap_server, folder, imap_processed_folder=done_folder)
    runtime.channels.register(EmailAdapter(runtime, settings))
    try:
        message_id = new_message_id()
        mailbox.deliver(text_email(sender=new_address(), message_id=message_id))
        assert await ImapPoller(runtime, settings).poll_once() == 1
        assert (mailbox.count(folder), mailbox.count(done_folder)) == (0, 1)
        assert (await ticket_of(runtime, message_id)).channel == "email"
    finally:
        mailbox.close()


async def test_a_second_poller_keeps_off_a_mailbox_in_use(
    runtime: Runtime, imap_server: dovecot.Dovecot
) -> None:
    folder = f"busy-{new_address().split('@')[0]}"
    mailbox = Mailbox(imap_server, folder)
    settings = _settings(imap_server, folder)
    try:
        mailbox.deliver(text_email(sender=new_address(), message_id=new_message_id()))
        holder, other = ImapPoller(runtime, settings), ImapPoller(runtime, settings)
        from walletdesk.channels.email import service

        async with runtime.db.transaction() as session:
            assert await service.claim_mailbox(session, holder.key, holder.poller_id, holder.lease)
        assert await other.poll_once() == 0
        async with runtime.db.transaction() as session:
            await service.release_mailbox(session, holder.key, holder.poller_id)
        assert await other.poll_once() == 1
    finally:
        mailbox.close()


async def test_polled_mail_gets_our_own_dkim_verdict(
    runtime: Runtime, imap_server: dovecot.Dovecot
) -> None:
    """A hosted mailbox adds no Authentication-Results we trust: we check DKIM ourselves."""
    folder = f"dkim-{new_address().split('@')[0]}"
    mailbox = Mailbox(imap_server, folder)
    settings = _settings(imap_server, folder)
    runtime.channels.register(EmailAdapter(runtime, settings))
    key, domain = rsa_key(), f"{unique('w')}.com.cn"
    loopback_dns().publish(f"s1._domainkey.{domain}", key.record)
    loopback_dns().publish(f"_dmarc.{domain}", "v=DMARC1; p=quarantine")
    try:
        good, forged = new_message_id(), new_message_id()
        mailbox.deliver(sign(text_email(sender=f"a@{domain}", message_id=good), key, domain))
        mailbox.deliver(text_email(sender=f"a@{domain}", message_id=forged))
        assert await ImapPoller(runtime, settings).poll_once() == 2
        signed, unsigned = await email_row(runtime, good), await email_row(runtime, forged)
        assert (signed.dkim, signed.dmarc) == ("pass", "pass")
        assert (unsigned.dkim, unsigned.dmarc) == ("none", "fail")
    finally:
        mailbox.close()
