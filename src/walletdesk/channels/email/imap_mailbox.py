"""One IMAP session of the poller: blocking imaplib, each step in a daemon thread of its own.

Stopping the poller (a node's SIGTERM) cuts the connection under a step still waiting on a
server that stopped answering, instead of saying LOGOUT and waiting up to the socket
timeout for an answer: the node stops in moments. Threads of the event loop's default
executor would not do: the loop's closing and the interpreter's exit both wait for them.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, ParamSpec, TypeVar

from walletdesk.channels.email.imap_utf7 import encode_mailbox
from walletdesk.channels.email.settings import ServerUrl

IMAP_TIMEOUT_SECONDS = 60.0
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


P = ParamSpec("P")
T = TypeVar("T")


class _Cut(OSError):
    """The poller stopped and cut the connection: what the step was waiting for is moot."""


async def _in_daemon_thread(step: Callable[[], T]) -> T:
    """Run a blocking step in a thread that never holds the process up (not to_thread)."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if outcome.done():  # the caller was cancelled meanwhile
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)

    def run() -> None:
        try:
            result, error = step(), None
        except BaseException as exc:
            result, error = None, exc
        with suppress(RuntimeError):  # the loop is closed: nobody waits for this any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="imap-step", daemon=True).start()
    return await outcome


class _Imap(imaplib.IMAP4):
    """imaplib over a socket the mailbox can cut from another thread."""

    def __init__(self, mailbox: Mailbox, host: str, port: int, timeout: float) -> None:
        self._mailbox = mailbox
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout)  # as imaplib does
        self._mailbox.watch(sock)
        return sock


class _ImapTls(imaplib.IMAP4_SSL):
    def __init__(
        self, mailbox: Mailbox, host: str, port: int, timeout: float, context: ssl.SSLContext
    ) -> None:
        self._mailbox = mailbox
        self._tls = context
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        plain = socket.create_connection((self.host, self.port), timeout)
        # The handshake after watching: a server silent from the start can be cut too.
        sock = self._tls.wrap_socket(
            plain, server_hostname=self.host, do_handshake_on_connect=False
        )
        self._mailbox.watch(sock)
        try:
            sock.do_handshake()
        except BaseException:
            sock.close()  # as wrap_socket would on its own handshake
            raise
        return sock


class Mailbox:
    """A blocking imaplib connection; each method runs, through `call`, in a thread of its own."""

    def __init__(self, server: ServerUrl, ca_file: str = "") -> None:
        self.server = server
        self.ca_file = ca_file
        self.name = server.path or "INBOX"
        self.where = f"{server.username}@{server.host}"
        self.conn: imaplib.IMAP4 | None = None
        self.can_move = False
        self._sock: socket.socket | None = None
        self._cut = False
        self._busy = False  # a step is running in its thread
        self._lock = threading.Lock()

    async def call(self, step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one blocking step in its own daemon thread; cancelled, cut the connection."""
        with self._lock:
            if self._cut:
                raise _Cut("the IMAP poller stopped")
            self._busy = True

        def step_then_tidy() -> T:
            try:
                return step(*args, **kwargs)
            finally:
                with self._lock:
                    self._busy = False
                    discard = self._cut
                if discard:  # cut while this step ran: the connection is this thread's to close
                    self._discard()

        try:
            return await _in_daemon_thread(step_then_tidy)
        except asyncio.CancelledError:
            self.cut()
            raise

    def cut(self) -> None:
        """End the connection now, without a LOGOUT a silent server would never answer.

        A step blocked on the connection in its thread fails at once: shutting the socket
        down wakes it, where closing it would not.
        """
        with self._lock:
            self._cut = True
            sock, busy = self._sock, self._busy
        if not busy:
            self._discard()
        elif sock is not None:
            with suppress(OSError):
                # The plain socket's shutdown, on a TLS one too: the TLS state stays with
                # the step's thread, which closes everything once it has failed.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    @property
    def was_cut(self) -> bool:
        return self._cut

    def watch(self, sock: socket.socket) -> None:
        """Called from imaplib, in the step's thread, as soon as there is a socket to cut."""
        with self._lock:
            self._sock = sock
            cut = self._cut
        if cut:  # stopped while connecting
            if self.conn is None:  # else closed with the connection it belongs to
                sock.close()
            raise _Cut("the IMAP poller stopped")

    def _discard(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):
                conn.shutdown()

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
            conn: imaplib.IMAP4 = _ImapTls(
                self, server.host, server.port, IMAP_TIMEOUT_SECONDS, context
            )
        else:
            conn = _Imap(self, server.host, server.port, IMAP_TIMEOUT_SECONDS)
        self.conn = conn
        if server.starttls and not server.implicit_tls:
            conn.starttls(ssl_context=context)
            self.watch(conn.sock)  # the plain socket is spent now
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
