"""The IMAP poller that `walletdesk worker` runs, for a support mailbox hosted elsewhere.

UID-based and restart-safe: the last UID done is stored after each message, in the
database, with the mailbox's UIDVALIDITY. A poller that dies mid-message fetches that
message again on restart, and ingest stores a Message-ID once, so nothing is lost and
nothing doubles. A lease on the mailbox row keeps several workers from polling it at once.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import re
import socket
import ssl
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from walletdesk.channels.email import service
from walletdesk.channels.email.adapter import email_settings_of
from walletdesk.channels.email.inbound import Refused, receive
from walletdesk.channels.email.settings import EmailSettings, ServerUrl

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

IMAP_TIMEOUT_SECONDS = 60.0
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The IMAP server refused or failed a command."""


class _Mailbox:
    """A blocking imaplib connection; each method is called in a worker thread."""

    def __init__(self, server: ServerUrl) -> None:
        self.server = server
        self.name = server.path or "INBOX"
        self.conn: imaplib.IMAP4 | None = None
        self.can_move = False

    def open(self) -> int:
        """Connect, log in, select the mailbox; returns its UIDVALIDITY."""
        server = self.server
        verify = server.options.get("verify", "true").lower() not in ("0", "false", "no")
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if server.implicit_tls:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS
            )
        else:
            conn = imaplib.IMAP4(server.host, server.port, timeout=IMAP_TIMEOUT_SECONDS)
            if server.starttls:
                conn.starttls(ssl_context=context)
        self.conn = conn
        conn.login(server.username, server.password)
        # Servers announce more (MOVE among it) once logged in.
        _, capabilities = conn.capability()
        first = capabilities[0] if capabilities else b""
        self.can_move = isinstance(first, bytes) and b"MOVE" in first.upper().split()
        self._check(conn.select(_quoted(self.name)), "SELECT")
        _, data = conn.response("UIDVALIDITY")
        try:
            return int(data[0]) if data and data[0] else 0
        except (TypeError, ValueError):
            return 0

    def uids_after(self, last_uid: int) -> list[int]:
        assert self.conn is not None
        data = self._check(self.conn.uid("SEARCH", f"UID {last_uid + 1}:*"), "SEARCH")
        found = [int(uid) for uid in (data[0] or b"").split() if uid.isdigit()]
        # "n:*" always matches the newest message, even when its UID is below n.
        return sorted(uid for uid in found if uid > last_uid)

    def size(self, uid: int) -> int:
        assert self.conn is not None
        data = self._check(self.conn.uid("FETCH", str(uid), "(RFC822.SIZE)"), "FETCH")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes) and (match := _SIZE.search(line)):
                return int(match.group(1))
        return 0

    def fetch(self, uid: int) -> bytes | None:
        """The raw message, without setting \\Seen (BODY.PEEK); None if it is gone."""
        assert self.conn is not None
        data = self._check(self.conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def mark_done(self, uid: int, folder: str) -> None:
        """Move the message to the processed folder, or flag it \\Seen if there is none."""
        assert self.conn is not None
        if not folder:
            self._check(self.conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "STORE")
            return
        if self.can_move:
            self._check(self.conn.uid("MOVE", str(uid), _quoted(folder)), "MOVE")
            return
        self._check(self.conn.uid("COPY", str(uid), _quoted(folder)), "COPY")
        self._check(self.conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen \Deleted)"), "STORE")
        self._check(self.conn.expunge(), "EXPUNGE")

    def close(self) -> None:
        if self.conn is None:
            return
        with suppress(Exception):
            self.conn.logout()
        self.conn = None

    @staticmethod
    def _check(response: tuple[str, list[Any]], command: str) -> list[Any]:
        status, data = response
        if status != "OK":
            raise ImapError(f"IMAP {command} failed: {data!r}"[:300])
        return list(data)


def _quoted(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._/-]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
        mailbox = _Mailbox(self.server)
        done = 0
        try:
            current_validity = await asyncio.to_thread(mailbox.open)
            if current_validity != uid_validity:
                if uid_validity:
                    log.warning("%s: UIDVALIDITY changed; reading it again", self.key)
                last_uid = 0  # a rebuilt mailbox: UIDs start over (ingest drops repeats)
            for uid in (await asyncio.to_thread(mailbox.uids_after, last_uid))[: self.batch_size]:
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
        finally:
            await asyncio.to_thread(mailbox.close)
            async with self.runtime.db.transaction() as session:
                await service.release_mailbox(session, self.key, self.poller_id)
        return done

    async def _take(self, mailbox: _Mailbox, uid: int) -> None:
        size = await asyncio.to_thread(mailbox.size, uid)
        if size > self.settings.max_message_bytes:
            # Left where it is for a person to handle: too big to become a ticket message.
            log.warning("%s: UID %s is %s bytes, over the limit; left unread", self.key, uid, size)
            return
        raw = await asyncio.to_thread(mailbox.fetch, uid)
        if raw is None:
            return
        try:
            await receive(self.runtime, self.settings, raw)
        except Refused as exc:
            # Nobody to tell over IMAP: the mail stays in the mailbox, marked done, and logged.
            log.warning("%s: UID %s refused: %s", self.key, uid, exc)
        await asyncio.to_thread(mailbox.mark_done, uid, self.settings.imap_processed_folder)

    async def run_forever(self) -> None:
        failures = 0
        while True:
            try:
                handled = await self.poll_once()
                failures = 0
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
            delay = self.settings.imap_poll_seconds * min(2**failures, 20)
            await asyncio.sleep(delay)


async def run_imap_poller(runtime: Runtime, settings: EmailSettings | None = None) -> None:
    """Poll WALLETDESK_IMAP_URL until cancelled; returns at once when it is not set."""
    settings = settings or email_settings_of(runtime)
    if not settings.imap_url:
        return
    poller = ImapPoller(runtime, settings)
    log.info("polling %s every %ss", poller.key, settings.imap_poll_seconds)
    await poller.run_forever()
