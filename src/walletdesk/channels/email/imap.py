"""The IMAP poller that `walletdesk worker` runs, for a support mailbox hosted elsewhere.

UID-based and restart-safe: the last UID done is stored after each message, in the
database, with the mailbox's UIDVALIDITY. A poller that dies mid-message fetches that
message again on restart, and ingest stores a Message-ID once, so nothing is lost and
nothing doubles. A lease on the mailbox row keeps several workers from polling it at once.
Mailbox and folder names travel in modified UTF-7 (imap_utf7.py), so "客服" works. Mail
too large or refused stays in the mailbox, flagged, and a ticket tells agents (setaside.py).
A mailbox or processed folder the server does not have is a setting to fix: logged as an
error and retried only at the longest pause, not every poll.
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
from walletdesk.channels.email.imap_utf7 import encode_mailbox
from walletdesk.channels.email.inbound import Refused, receive
from walletdesk.channels.email.setaside import SetAside, announce, refused, too_large
from walletdesk.channels.email.settings import EmailSettings, ServerUrl

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

IMAP_TIMEOUT_SECONDS = 60.0
# After failures the pause between polls doubles, up to this many times the usual one.
BACKOFF_CAP = 20
# Enough headers to name the sender and subject of a message we leave in the mailbox.
HEADER_PEEK_BYTES = 64 * 1024
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_MISSING = re.compile(
    rb"NONEXISTENT|does ?n[o']t exist|not exist|no such mailbox|unknown mailbox", re.IGNORECASE
)


class ImapError(Exception):
    """The IMAP server refused or failed a command."""


class ImapSettingsError(ImapError):
    """The settings name a mailbox or folder the server does not have."""


class _Mailbox:
    """A blocking imaplib connection; each method is called in a worker thread."""

    def __init__(self, server: ServerUrl, ca_file: str = "") -> None:
        self.server = server
        self.ca_file = ca_file
        self.name = server.path or "INBOX"
        self.where = f"{server.username}@{server.host}"
        self.conn: imaplib.IMAP4 | None = None
        self.can_move = False

    def open(self, processed_folder: str = "") -> int:
        """Connect, log in, select the mailbox; returns its UIDVALIDITY."""
        server = self.server
        verify = server.options.get("verify", "true").lower() not in ("0", "false", "no")
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)  # besides the system's, as SMTP
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
        status, said = conn.select(_quoted(encode_mailbox(self.name)))
        if status != "OK":
            if _MISSING.search(b" ".join(x for x in said if isinstance(x, bytes))):
                raise ImapSettingsError(
                    f"the mailbox {self.name!r} does not exist for {self.where} "
                    f"(server: {_text(said)}); fix the folder in WALLETDESK_IMAP_URL"
                )
            raise ImapError(f"IMAP SELECT failed: {_text(said)}")
        if processed_folder and not self.exists(processed_folder):
            # Else every message would be stored, then fail to move, and be fetched again.
            raise ImapSettingsError(
                f"the processed folder {processed_folder!r} does not exist for {self.where}; "
                "create it, or change WALLETDESK_IMAP_PROCESSED_FOLDER"
            )
        _, data = conn.response("UIDVALIDITY")
        try:
            return int(data[0]) if data and data[0] else 0
        except (TypeError, ValueError):
            return 0

    def exists(self, folder: str) -> bool:
        assert self.conn is not None
        data = self._check(self.conn.list('""', _quoted(encode_mailbox(folder))), "LIST")
        return any(item for item in data)

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

    def headers(self, uid: int) -> bytes:
        """The start of the message's header, without setting \\Seen."""
        assert self.conn is not None
        part = f"(BODY.PEEK[HEADER]<0.{HEADER_PEEK_BYTES}>)"
        data = self._check(self.conn.uid("FETCH", str(uid), part), "FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return b""

    def set_aside(self, uid: int) -> None:
        """Leave the message where it is, unread, flagged for a person to look at."""
        assert self.conn is not None
        self._check(self.conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Flagged)"), "STORE")

    def mark_done(self, uid: int, folder: str) -> None:
        """Move the message to the processed folder, or flag it \\Seen if there is none."""
        assert self.conn is not None
        if not folder:
            self._check(self.conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "STORE")
            return
        target = _quoted(encode_mailbox(folder))
        if self.can_move:
            self._check(self.conn.uid("MOVE", str(uid), target), "MOVE")
            return
        self._check(self.conn.uid("COPY", str(uid), target), "COPY")
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


def _text(data: list[Any]) -> str:
    said = b" ".join(x for x in data if isinstance(x, bytes)).decode("utf-8", "replace")
    return said[:200]


def _quoted(name: str) -> str:
    """An (already modified UTF-7, so ASCII) mailbox name as an IMAP astring."""
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
        mailbox = _Mailbox(self.server, self.settings.imap_ca_file)
        done = 0
        try:
            current_validity = await asyncio.to_thread(
                mailbox.open, self.settings.imap_processed_folder
            )
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
        limit = self.settings.max_message_bytes
        if size > limit:
            await self._set_aside(mailbox, too_large(self.key, uid, size, limit))
            return
        raw = await asyncio.to_thread(mailbox.fetch, uid)
        if raw is None:
            return
        try:
            await receive(self.runtime, self.settings, raw)
        except Refused as exc:
            await self._set_aside(mailbox, refused(self.key, uid, exc.text))
            return
        await asyncio.to_thread(mailbox.mark_done, uid, self.settings.imap_processed_folder)

    async def _set_aside(self, mailbox: _Mailbox, aside: SetAside) -> None:
        # Flag first: should the notice fail (database down), the poll fails before the UID
        # is recorded, and the next one flags it again (harmless) and retries the notice.
        await asyncio.to_thread(mailbox.set_aside, aside.uid)
        headers = await asyncio.to_thread(mailbox.headers, aside.uid)
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
