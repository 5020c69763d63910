"""The customer's websocket: admission, the frame loop, and the chat as this socket sees it.

`customer_socket` lets a page in (an active site, an allowed origin, an address under its
connection limit); `CustomerChat` then runs hello → welcome and reads frames in order, one
at a time. What each frame does lives beside it:

- customer_handshake: hello, welcome, history catch-up, restart (a new conversation);
- customer_messages: chat messages, stored once per client id and acked (the hot path);
- customer_closing: end, rating, contact details, transcript.

Typing, read and delivered hints and pings are handled in the dispatcher itself (past their
rate they are dropped, not refused). The hub keeps each socket's status, tier, availability
and queue position in step through `observe` and `update_queue`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from walletdesk.channels.webchat import events, frames, service
from walletdesk.channels.webchat.connection import (
    BinaryFrame,
    ChatConnection,
    Disconnected,
    binary_error,
    drain_disconnect,
    flooding_error,
)
from walletdesk.channels.webchat.customer_closing import (
    end_chat,
    rate_chat,
    save_contact,
    send_transcript,
)
from walletdesk.channels.webchat.customer_handshake import (
    read_hello,
    restart,
    send_history,
    welcome,
)
from walletdesk.channels.webchat.customer_messages import receive_message
from walletdesk.channels.webchat.identity import Resume
from walletdesk.channels.webchat.limits import TokenBucket, WindowCounter
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.channels.webchat.protocol import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_TRY_AGAIN,
    ProtocolError,
    client_ip,
    domain_error,
    parse_frame,
    unavailable,
)
from walletdesk.channels.webchat.queue import QueueFigures
from walletdesk.channels.webchat.sites import Site
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import DomainError

if TYPE_CHECKING:
    from walletdesk.channels.webchat.hub import ChatHub

log = logging.getLogger(__name__)


class CustomerChat(ChatConnection):
    """One customer's socket: its view of the chat, its allowances, and its frame loop."""

    side = "customer"

    def __init__(self, websocket: WebSocket, hub: ChatHub, site: Site, ip: str) -> None:
        super().__init__(websocket, queue_size=hub.settings.send_queue_size, ip=ip)
        self.hub = hub
        self.settings = hub.settings
        self.site = site
        self.conversation = ""
        self.resume: Resume | None = None
        self.sender = SenderIdentity("webchat", "-")
        self.also_known_as: tuple[SenderIdentity, ...] = ()
        self.locale: str | None = None
        self.status = "new"
        self.tier = 1
        self.ticket_id: int | None = None
        self.ticket_number: str | None = None
        # Known once this socket's first message went through ingest(): later ones take the
        # group-committed follow-up path.
        self.contact_id: int | None = None
        # What the socket was last told of the queue and of agents' availability: only a
        # change is sent again.
        self.last_queue: tuple[Any, ...] | None = None
        self.online: bool | None = None
        self.messages = TokenBucket(self.settings.messages_per_second, self.settings.message_burst)
        self.hints = TokenBucket(
            self.settings.hints_per_second, int(self.settings.hints_per_second * 2) + 1
        )
        self.errors = WindowCounter(self.settings.max_errors_per_minute)

    # --- run ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.start_writer()
        try:
            hello = await read_hello(self)
            if hello is None:
                return
            self.hold()
            try:
                if not await welcome(self, hello):
                    return
                self.release()
                while not self.closed:
                    await self._next_frame()
            finally:
                if self.conversation:
                    self.hub.remove_customer(self)
        except Disconnected:
            return
        except Exception:
            log.exception("webchat customer connection failed")
            self.fail(
                ProtocolError(
                    "internal",
                    "the server could not start the chat; reconnect",
                    fatal=True,
                    close_code=CLOSE_TRY_AGAIN,
                )
            )
        finally:
            if self.closed:
                await asyncio.sleep(0)  # let the writer send the close it was given
                await drain_disconnect(self.ws)
            await self.stop_writer()

    async def _next_frame(self) -> None:
        try:
            raw = await self.receive_text()
            frame = parse_frame(
                raw, frames.CUSTOMER_FRAMES, max_bytes=self.settings.max_frame_bytes
            )
            await self._handle(frame)
        except BinaryFrame:
            self._refuse(binary_error())
        except ProtocolError as exc:
            self._refuse(exc)
        except DomainError as exc:
            self._refuse(domain_error(exc))
        except Disconnected:
            raise
        except (SQLAlchemyError, OSError, TimeoutError):
            log.warning("webchat customer frame: database unavailable", exc_info=True)
            self._refuse(unavailable(None))
        except Exception:  # a bug must not end the customer's chat
            log.exception("webchat customer frame failed")
            self._refuse(ProtocolError("internal", "the server could not handle this frame"))

    def _refuse(self, error: ProtocolError) -> None:
        self.fail(error)
        if not error.fatal and not self.errors.hit():
            self.fail(flooding_error())

    # --- frames -------------------------------------------------------------------------------

    async def _handle(self, frame: frames.Frame) -> None:
        if isinstance(frame, frames.CustomerMessage):
            await receive_message(self, frame)
        elif isinstance(frame, frames.Typing):
            if self._hint() and self.status in ("waiting", "active"):
                await self.hub.publish(
                    events.to_conversation(
                        self.conversation,
                        {
                            "type": "typing",
                            "conversation": self.conversation,
                            "by": "customer",
                            "active": frame.active,
                        },
                        to="agent",
                    )
                )
        elif isinstance(frame, frames.Read):
            if self._hint() and self.status != "new":
                async with self.hub.runtime.db.transaction() as session:
                    await service.mark_read(
                        session, self.conversation, by="customer", up_to=frame.up_to
                    )
        elif isinstance(frame, frames.Delivered):
            if self._hint() and self.status != "new":
                await self.hub.publish(
                    events.to_conversation(
                        self.conversation,
                        {
                            "type": "delivered",
                            "conversation": self.conversation,
                            "by": "customer",
                            "up_to": frame.up_to,
                        },
                        to="agent",
                    )
                )
        elif isinstance(frame, frames.Ping):
            if self._hint():
                self.send({"type": "pong"})
        elif isinstance(frame, frames.History):
            self.charge()
            await send_history(self, frame.after)
        elif isinstance(frame, frames.Rate):
            self.charge()
            await rate_chat(self, frame)
        elif isinstance(frame, frames.End):
            self.charge()
            await end_chat(self)
        elif isinstance(frame, frames.Restart):
            self.charge()
            await restart(self)
        elif isinstance(frame, frames.ContactDetails):
            self.charge()
            await save_contact(self, frame)
        elif isinstance(frame, frames.TranscriptRequest):
            self.charge()
            await send_transcript(self, frame)
        elif isinstance(frame, frames.Hello):
            raise ProtocolError("already_welcomed", "hello is sent once per connection")

    def charge(self, ref: str | None = None) -> None:
        """Frames that cost a database transaction share the message allowance."""
        wait = max(self.messages.take(), self.hub.ip_limits.take(self.ip))
        if wait > 0:
            raise ProtocolError(
                "rate_limited",
                "too many requests; retry after retry_after",
                ref=ref,
                retry_after=wait,
            )

    def _hint(self) -> bool:
        # Typing and read hints past the rate are dropped without an error: they are hints.
        return self.hints.take() == 0.0

    # --- events from the hub ------------------------------------------------------------------

    def observe(self, frame: dict[str, Any]) -> None:
        """Keep this connection's view of the conversation in step with what it is sent."""
        kind = frame.get("type")
        if kind == "status":
            self.status = str(frame.get("status", self.status))
            tier = frame.get("tier")
            if isinstance(tier, int):
                self.tier = tier
            if self.status == "waiting":
                self.hub.request_queue_refresh(self.tier)
        elif kind == "ended":
            self.status = ConversationStatus.ENDED

    def update_queue(self, figures: QueueFigures) -> None:
        online = figures.agents_online > 0 and self.site.is_open()
        if online != self.online:
            self.online = online
            self.send({"type": "availability", "online": online, "open": self.site.is_open()})
        if self.status != "waiting":
            return
        frame = figures.frame(self.conversation)
        key = (frame["position"], frame["eta_seconds"])
        if key != self.last_queue:
            self.last_queue = key
            self.send(frame)


async def customer_socket(websocket: WebSocket, hub: ChatHub) -> None:
    """Accept, check the site and the page's origin, then run the chat."""
    await websocket.accept()
    ip = client_ip(websocket)
    key = websocket.query_params.get("site", "")
    site = await hub.sites.get(key) if 0 < len(key) <= 40 else None
    probe = ChatConnection(websocket, queue_size=4, ip=ip)
    probe.start_writer()
    if site is None:
        probe.fail(
            ProtocolError(
                "unknown_site",
                "no active site with this key",
                fatal=True,
                close_code=CLOSE_FORBIDDEN,
            )
        )
    elif not site.is_active:
        probe.fail(
            ProtocolError(
                "site_inactive",
                "this site's chat has been turned off (webchat site activate)",
                fatal=True,
                close_code=CLOSE_FORBIDDEN,
            )
        )
    elif not site.allows(websocket.headers.get("origin")):
        probe.fail(
            ProtocolError(
                "origin_not_allowed",
                "this page's origin is not allowed for the site",
                fatal=True,
                close_code=CLOSE_FORBIDDEN,
            )
        )
    elif not hub.ip_limits.connect(ip):
        probe.fail(
            ProtocolError(
                "too_many_connections",
                "too many chats from this address",
                fatal=True,
                close_code=CLOSE_FLOODING,
            )
        )
    else:
        await probe.stop_writer()
        try:
            await CustomerChat(websocket, hub, site, ip).run()
        finally:
            hub.ip_limits.disconnect(ip)
        return
    await asyncio.sleep(0)
    await drain_disconnect(websocket)
    await probe.stop_writer()
