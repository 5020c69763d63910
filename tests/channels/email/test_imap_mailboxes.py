"""The IMAP poller against a real dovecot: Chinese folder names, missing folders, mail it
cannot take, and `serve`'s embedded worker polling."""

from __future__ import annotations

import asyncio
import imaplib
import logging
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from tests.channels.email import dovecot
from tests.channels.email.conftest import make_settings, new_address, new_message_id, ticket_of
from tests.channels.email.mail import text_email
from tests.conftest import make_ticket, unique
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.imap import ImapPoller, ImapSettingsError
from walletdesk.channels.email.install import embedded_imap_poller
from walletdesk.channels.email.models import EmailMailbox
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.runtime import Runtime

# The names as IMAP carries them, written out here rather than made by the code under test.
# Python's own 'utf-7' codec gives "+W6JnDQ-" and "+XfJZBHQG-": the same base64, '&' shift.
CUSTOMER_SERVICE = ("客服", "&W6JnDQ-")
PROCESSED = ("已处理", "&XfJZBHQG-")
WAIT = 15.0


@pytest.fixture(scope="module")
def imap_server() -> Iterator[dovecot.Dovecot]:
    dovecot.require()
    with dovecot.running_dovecot() as server:
        yield server


class Store:
    """The mail store as a person or delivery agent sees it, names given on the wire."""

    def __init__(self, server: dovecot.Dovecot) -> None:
        self.conn = imaplib.IMAP4("127.0.0.1", server.port)
        self.conn.login(dovecot.USER, dovecot.PASSWORD)

    def create(self, wire: str) -> None:
        status, said = self.conn.create(f'"{wire}"')
        assert status == "OK", said

    def deliver(self, wire: str, raw: bytes) -> None:
        status, said = self.conn.append(f'"{wire}"', None, None, raw)
        assert status == "OK", said

    def flags(self, wire: str) -> list[bytes]:
        status, _ = self.conn.select(f'"{wire}"', readonly=True)
        assert status == "OK"
        _, data = self.conn.fetch("1:*", "(FLAGS)")
        return [item for item in data if isinstance(item, bytes)]

    def count(self, wire: str) -> int:
        status, data = self.conn.select(f'"{wire}"', readonly=True)
        assert status == "OK", data
        return int(data[0] or 0)

    def close(self) -> None:
        self.conn.logout()


@pytest.fixture
def store(imap_server: dovecot.Dovecot) -> Iterator[Store]:
    opened = Store(imap_server)
    yield opened
    opened.close()


def _settings(server: dovecot.Dovecot, folder: str, **overrides: object) -> EmailSettings:
    # RFC 5092: an IMAP URL's mailbox is UTF-8, percent-encoded.
    url = server.url.replace("/INBOX", "/" + quote(folder))
    return make_settings(1, imap_url=url, **overrides)


def _names(base: tuple[str, str]) -> tuple[str, str]:
    suffix = unique("-")
    return base[0] + suffix, base[1] + suffix


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(int(WAIT / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def _messages(runtime: Runtime, external_id: str) -> list[Message]:
    async with runtime.db.transaction() as session:
        rows = await session.scalars(
            select(Message).where(Message.channel == "email", Message.external_id == external_id)
        )
        return list(rows.all())


async def test_a_chinese_mailbox_and_processed_folder(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    (inbox, inbox_wire), (done, done_wire) = _names(CUSTOMER_SERVICE), _names(PROCESSED)
    store.create(inbox_wire)
    store.create(done_wire)
    settings = _settings(imap_server, inbox, imap_processed_folder=done)
    runtime.channels.register(EmailAdapter(runtime, settings))
    message_id = new_message_id()
    store.deliver(inbox_wire, text_email(sender=new_address(), message_id=message_id))

    assert await ImapPoller(runtime, settings).poll_once() == 1
    assert (store.count(inbox_wire), store.count(done_wire)) == (0, 1)
    assert (await ticket_of(runtime, message_id)).channel == "email"


async def test_a_missing_mailbox_is_a_clear_error_retried_at_the_longest_pause(
    runtime: Runtime, imap_server: dovecot.Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    missing = "不存在" + unique("-")
    settings = _settings(imap_server, missing, imap_poll_seconds=0.2)
    poller = ImapPoller(runtime, settings)
    with pytest.raises(ImapSettingsError, match="does not exist"):
        await poller.poll_once()

    def tries() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "walletdesk.channels.email.imap"]

    # The next try comes after the longest pause, 20 polls (4 s here); the usual backoff
    # would have tried again after 0.4 s and 1.2 s.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="walletdesk.channels.email.imap"):
        running = asyncio.create_task(poller.run_forever())
        await _until(lambda: bool(tries()))
        await asyncio.sleep(1.5)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    made = tries()
    assert len(made) == 1, [r.getMessage() for r in made]
    assert made[0].levelno == logging.ERROR
    assert f"the mailbox {missing!r} does not exist" in made[0].getMessage()
    assert "WALLETDESK_IMAP_URL" in made[0].getMessage()


async def test_a_missing_processed_folder_stops_before_taking_mail(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    inbox, inbox_wire = _names(CUSTOMER_SERVICE)
    store.create(inbox_wire)
    absent = PROCESSED[0] + unique("-")
    settings = _settings(imap_server, inbox, imap_processed_folder=absent)
    runtime.channels.register(EmailAdapter(runtime, settings))
    message_id = new_message_id()
    store.deliver(inbox_wire, text_email(sender=new_address(), message_id=message_id))

    with pytest.raises(ImapSettingsError, match="WALLETDESK_IMAP_PROCESSED_FOLDER"):
        await ImapPoller(runtime, settings).poll_once()
    # Not stored and then stuck failing to move it: left alone, unread, until the fix.
    assert await _messages(runtime, message_id) == []
    assert store.count(inbox_wire) == 1
    assert not any(b"\\Seen" in flags for flags in store.flags(inbox_wire))


async def test_mail_too_large_stays_flagged_in_the_mailbox_and_agents_get_a_ticket(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    inbox, inbox_wire = _names(CUSTOMER_SERVICE)
    store.create(inbox_wire)
    settings = _settings(imap_server, inbox, max_message_bytes=4096)
    runtime.channels.register(EmailAdapter(runtime, settings))
    sender, big_id, small_id = new_address(), new_message_id(), new_message_id()
    big = text_email(
        sender=sender, message_id=big_id, subject="转账截图", body="截图 " + "x" * 8000
    )
    store.deliver(inbox_wire, big)
    store.deliver(inbox_wire, text_email(sender=new_address(), message_id=small_id))

    poller = ImapPoller(runtime, settings)
    assert await poller.poll_once() == 2
    # The next message was taken as usual: the big one did not block the mailbox.
    assert (await ticket_of(runtime, small_id)).channel == "email"
    assert await _messages(runtime, big_id) == []

    # The big one is still there, unread and flagged (the small one is \Seen).
    flags = store.flags(inbox_wire)
    assert store.count(inbox_wire) == 2
    assert b"\\Flagged" in flags[0] and b"\\Seen" not in flags[0]

    [notice] = await _messages(runtime, f"set-aside:{big_id}")
    assert f"{len(big):,} bytes, the limit is 4,096" in notice.body_text
    for part in ("邮件过大", sender, "转账截图", "flagged"):
        assert part in notice.body_text
    async with runtime.db.transaction() as session:
        ticket = await session.get(Ticket, notice.ticket_id)
        assert ticket is not None and ticket.subject == "转账截图"
        identity = await session.scalar(
            select(ContactIdentity).where(ContactIdentity.contact_id == ticket.contact_id)
        )
    # From the sender, so an agent's reply goes to them by email.
    assert identity is not None and (identity.kind, identity.value) == ("email", sender)

    # Fetched again after a crash before the UIDs were recorded: still one notice.
    async with runtime.db.transaction() as session:
        await session.execute(
            update(EmailMailbox).where(EmailMailbox.mailbox == poller.key).values(last_uid=0)
        )
    assert await ImapPoller(runtime, settings).poll_once() == 2
    assert len(await _messages(runtime, f"set-aside:{big_id}")) == 1
    assert await ImapPoller(runtime, settings).poll_once() == 0


async def test_refused_mail_stays_in_the_mailbox_and_agents_get_a_ticket(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    inbox, inbox_wire = _names(CUSTOMER_SERVICE)
    done, done_wire = _names(PROCESSED)
    store.create(inbox_wire)
    store.create(done_wire)
    settings = _settings(imap_server, inbox, imap_processed_folder=done)
    runtime.channels.register(EmailAdapter(runtime, settings))
    message_id = new_message_id()
    # No From at all: nobody to open a ticket for (SMTP would answer 550 5.1.7).
    store.deliver(
        inbox_wire,
        (
            f"To: support@walletdesk.test\r\nSubject: 没有发件人\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n帮帮我\r\n"
        ).encode(),
    )

    poller = ImapPoller(runtime, settings)
    assert await poller.poll_once() == 1
    # Not moved to the processed folder: left where it was, flagged, unread.
    assert (store.count(inbox_wire), store.count(done_wire)) == (1, 0)
    [flags] = store.flags(inbox_wire)
    assert b"\\Flagged" in flags and b"\\Seen" not in flags

    [notice] = await _messages(runtime, f"set-aside:{message_id}")
    assert "refused: 5.1.7" in notice.body_text and "没有发件人" in notice.body_text
    async with runtime.db.transaction() as session:
        ticket = await session.get(Ticket, notice.ticket_id)
        assert ticket is not None
        identity = await session.scalar(
            select(ContactIdentity).where(ContactIdentity.contact_id == ticket.contact_id)
        )
    # Filed under the mailbox itself, the only address there is.
    assert identity is not None and (identity.kind, identity.value) == ("imap", poller.key)


async def test_serves_embedded_worker_polls_the_mailbox(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    assert embedded_imap_poller in runtime.node_services  # what create_app's lifespan enters
    inbox, inbox_wire = _names(CUSTOMER_SERVICE)
    store.create(inbox_wire)
    settings = _settings(imap_server, inbox, imap_poll_seconds=0.05)
    runtime.channels.register(EmailAdapter(runtime, settings))
    message_id = new_message_id()
    store.deliver(inbox_wire, text_email(sender=new_address(), message_id=message_id))

    # Web nodes that leave delivery to `walletdesk worker` leave polling to it too.
    async with embedded_imap_poller(runtime):
        await asyncio.sleep(0.5)
    assert await _messages(runtime, message_id) == []

    runtime.settings = runtime.settings.model_copy(update={"embedded_worker": True})
    key = ImapPoller(runtime, settings).key
    async with embedded_imap_poller(runtime):
        # Done once the UID is recorded, after the message is stored and marked \Seen.
        for _ in range(int(WAIT / 0.05)):
            async with runtime.db.transaction() as session:
                last_uid = await session.scalar(
                    select(EmailMailbox.last_uid).where(EmailMailbox.mailbox == key)
                )
            if last_uid:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the embedded poller took no mail")
    assert len(await _messages(runtime, message_id)) == 1
    assert b"\\Seen" in store.flags(inbox_wire)[0]


async def test_a_notice_joins_the_ticket_the_subject_names(
    runtime: Runtime, imap_server: dovecot.Dovecot, store: Store
) -> None:
    inbox, inbox_wire = _names(CUSTOMER_SERVICE)
    store.create(inbox_wire)
    settings = _settings(imap_server, inbox, max_message_bytes=4096)
    runtime.channels.register(EmailAdapter(runtime, settings))
    sender = new_address()
    opened = await make_ticket(runtime.db, sender=SenderIdentity("email", sender))
    big_id = new_message_id()
    subject = f"Re: [#{opened.ticket_number}] 截图"
    store.deliver(
        inbox_wire,
        text_email(sender=sender, message_id=big_id, subject=subject, body="x" * 8000),
    )

    assert await ImapPoller(runtime, settings).poll_once() == 1
    [notice] = await _messages(runtime, f"set-aside:{big_id}")
    assert notice.ticket_id == opened.ticket_id
