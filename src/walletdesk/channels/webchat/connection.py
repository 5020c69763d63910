"""One chat websocket: a bounded outgoing queue drained by its own writer task.

Nothing waits on a slow client: the hub hands frames to `push`, which never blocks. A
client whose queue overflows is closed (1013) and comes back through history, so a
stalled phone cannot hold memory or delay anyone else's messages.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from contextlib import suppress
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from walletdesk.channels.webchat.protocol import (
    CLOSE_FLOODING,
    CLOSE_TRY_AGAIN,
    ProtocolError,
    dumps,
)

log = logging.getLogger(__name__)

_REMEMBERED_MESSAGES = 256


class Disconnected(Exception):
    pass


class BinaryFrame(Exception):
    pass


class ChatConnection:
    side = "customer"

    def __init__(self, websocket: WebSocket, *, queue_size: int, ip: str) -> None:
        self.id = secrets.token_hex(8)
        self.ws = websocket
        self.ip = ip
        self.closed = False
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue(queue_size)
        # Message ids already pushed: the live reply and its outbox copy arrive once.
        self._delivered: OrderedDict[int, None] = OrderedDict()
        self._writer: asyncio.Task[None] | None = None
        self._held: list[str] | None = None

    # --- outgoing ------------------------------------------------------------------------

    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"webchat-writer-{self.id}")

    async def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._writer

    def send(self, frame: dict[str, Any]) -> None:
        """A reply to this client: ahead of any live events being held back."""
        self.push(dumps(frame), now=True)

    def hold(self) -> None:
        """Keep live events back while a snapshot is read, so none lands before it or is lost."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for text in held:
            self.push(text)

    def push(self, text: str, *, now: bool = False) -> None:
        if self.closed:
            return
        if self._held is not None and not now:
            self._held.append(text)
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.info("webchat %s %s reads too slowly; closing it", self.side, self.id)
            self.close(CLOSE_TRY_AGAIN, "too slow")

    def first_delivery(self, message_id: int) -> bool:
        """True the first time this connection is given this message."""
        if message_id in self._delivered:
            return False
        self._delivered[message_id] = None
        if len(self._delivered) > _REMEMBERED_MESSAGES:
            self._delivered.popitem(last=False)
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Close after what is queued (or at once, dropping it, if the queue is full)."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                self._queue.put_nowait((code, reason))
                return
            except asyncio.QueueFull:
                with suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()

    def fail(self, error: ProtocolError) -> None:
        self.send(error.frame())
        if error.fatal:
            self.close(error.close_code, error.code)

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, tuple):
                    with suppress(Exception):
                        await self.ws.close(item[0], item[1][:120])
                    return
                await self.ws.send_text(item)
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away mid-send; the reader notices and cleans up
            self.closed = True

    # --- incoming --------------------------------------------------------------------------

    async def receive_text(self) -> str:
        message = await self.ws.receive()
        kind = message.get("type")
        if kind == "websocket.disconnect":
            raise Disconnected
        text = message.get("text")
        if text is None:
            if message.get("bytes") is not None:
                raise BinaryFrame
            raise Disconnected
        return str(text)


def binary_error() -> ProtocolError:
    return ProtocolError("binary_not_supported", "frames are JSON text; binary frames are ignored")


def flooding_error() -> ProtocolError:
    return ProtocolError(
        "too_many_errors",
        "too many refused frames in a minute; reconnect later",
        fatal=True,
        close_code=CLOSE_FLOODING,
    )


async def drain_disconnect(websocket: WebSocket) -> None:
    """Wait for the peer's side of a close we started (bounded), so the socket ends cleanly."""
    with suppress(Exception, WebSocketDisconnect):
        async with asyncio.timeout(2):
            await websocket.receive()
