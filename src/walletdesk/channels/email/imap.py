"""The IMAP poller that `walletdesk worker` runs, for a support mailbox hosted elsewhere.

UID-based and restart-safe: the last UID done is stored after each message, in the
database, with the mailbox's UIDVALIDITY. A poller that dies mid-message fetches that
message again on restart, and ingest stores a Message-ID once, so nothing is lost and
nothing doubles. A lease on the mailbox row keeps several workers from polling it at once.
Mailbox and folder names travel in modified UTF-7 (imap_utf7.py), so "客服" works. Mail
too large or refused stays in the mailbox, flagged, and a ticket tells agents (setaside.py).
A mailbox or processed folder the server does not have is a setting to fix: logged as an
error and retried only at the longest pause, not every poll.

The IMAP session itself is imap_mailbox.py: stopping the poller (a node's SIGTERM) cuts the
connection rather than waiting on a server that stopped answering, and gives the lease back.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import socket
import ssl
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from walletdesk.channels.email import service
from walletdesk.channels.email.adapter import email_settings_of
from walletdesk.channels.email.imap_mailbox import ImapError, ImapSettingsError, Mailbox
from walletdesk.channels.email.inbound import Refused, receive
from walletdesk.channels.email.setaside import SetAside, announce, refused, too_large
from walletdesk.channels.email.settings import EmailSettings

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

__all__ = ["ImapError", "ImapPoller", "ImapSettingsError", "run_imap_poller"]

log = logging.getLogger(__name__)

# After failures the pause between polls doubles, up to this many times the usual one.
BACKOFF_CAP = 20


class ImapPoller:
    def __init__(
        self,
        runtime: Runtime,
        settings: EmailSettings,
        *,
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        server = settings.imap()
        if server is None:
            raise ValueError("no IMAP mailbox configured (WALLETDESK_IMAP_URL)")
        self.runtime = runtime
        self.settings = settings
        self.server = server
        self.batch_size = batch_size
        self.lease = lease
        self.poller_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        name = server.path or "INBOX"
        self.key = f"{server.scheme}://{server.username}@{server.host}:{server.port}/{name}"[:400]

    async def poll_once(self) -> int:
        """Fetch and ingest new mail (up to one batch); returns how many messages were done."""
        async with self.runtime.db.transaction() as session:
            state = await service.claim_mailbox(session, self.key, self.poller_id, self.lease)
            if state is None:
                return 0
            uid_validity, last_uid = state.uid_validity, state.last_uid
        mailbox = Mailbox(self.server, self.settings.imap_ca_file)
        try:
            try:
                return await self._read(mailbox, uid_validity, last_uid)
            except asyncio.CancelledError:
                mailbox.cut()  # the node is stopping: no goodbye to a server that may hang
                raise
            finally:
                if not mailbox.was_cut:
                    await mailbox.call(mailbox.close)
        finally:
            # Also when stopping: the next node need not wait out the lease.
            async with self.runtime.db.transaction() as session:
                await service.release_mailbox(session, self.key, self.poller_id)

    async def _read(self, mailbox: Mailbox, uid_validity: int, last_uid: int) -> int:
        current_validity = await mailbox.call(mailbox.open, self.settings.imap_processed_folder)
        if current_validity != uid_validity:
            if uid_validity:
                log.warning("%s: UIDVALIDITY changed; reading it again", self.key)
            last_uid = 0  # a rebuilt mailbox: UIDs start over (ingest drops repeats)
        done = 0
        for uid in (await mailbox.call(mailbox.uids_after, last_uid))[: self.batch_size]:
            await self._take(mailbox, uid)
            async with self.runtime.db.transaction() as session:
                held = await service.advance_mailbox(
                    session,
                    self.key,
                    self.poller_id,
                    uid_validity=current_validity,
                    last_uid=uid,
                )
            if not held:
                log.warning("%s: lost the mailbox lease; stopping this round", self.key)
                break
            done += 1
        return done

    async def _take(self, mailbox: Mailbox, uid: int) -> None:
        size = await mailbox.call(mailbox.size, uid)
        limit = self.settings.max_message_bytes
        if size > limit:
            await self._set_aside(mailbox, too_large(self.key, uid, size, limit))
            return
        raw = await mailbox.call(mailbox.fetch, uid)
        if raw is None:
            return
        try:
            await receive(self.runtime, self.settings, raw)
        except Refused as exc:
            await self._set_aside(mailbox, refused(self.key, uid, exc.text))
            return
        await mailbox.call(mailbox.mark_done, uid, self.settings.imap_processed_folder)

    async def _set_aside(self, mailbox: Mailbox, aside: SetAside) -> None:
        # Flag first: should the notice fail (database down), the poll fails before the UID
        # is recorded, and the next one flags it again (harmless) and retries the notice.
        await mailbox.call(mailbox.set_aside, aside.uid)
        headers = await mailbox.call(mailbox.headers, aside.uid)
        await announce(self.runtime, headers, aside)

    async def run_forever(self) -> None:
        failures = 0
        while True:
            try:
                handled = await self.poll_once()
                failures = 0
            except ImapSettingsError as exc:
                failures, handled = BACKOFF_CAP, 0  # knocking every poll cannot fix a setting
                log.error(
                    "%s: %s; trying again in %.0f s",
                    self.key,
                    exc,
                    self.settings.imap_poll_seconds * BACKOFF_CAP,
                )
            except (OSError, imaplib.IMAP4.error, ImapError, ssl.SSLError) as exc:
                failures += 1
                handled = 0
                log.warning("%s: polling failed (%s: %s)", self.key, type(exc).__name__, exc)
            except Exception:
                failures += 1
                handled = 0
                log.exception("%s: polling failed", self.key)
            if handled >= self.batch_size:
                continue  # more is waiting
            delay = self.settings.imap_poll_seconds * min(2**failures, BACKOFF_CAP)
            await asyncio.sleep(delay)


async def run_imap_poller(runtime: Runtime, settings: EmailSettings | None = None) -> None:
    """Poll WALLETDESK_IMAP_URL until cancelled; returns at once when it is not set."""
    settings = settings or email_settings_of(runtime)
    if not settings.imap_url:
        return
    poller = ImapPoller(runtime, settings)
    log.info("polling %s every %ss", poller.key, settings.imap_poll_seconds)
    await poller.run_forever()
