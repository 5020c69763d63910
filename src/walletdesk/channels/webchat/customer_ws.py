"""The customer's websocket: hello → welcome, then messages with acks, typing, reads, rating.

Every customer message carries a client id; it is stored once under
(webchat, "<conversation>:<client id>") by ingest(), and acknowledged with the same
server id however often it is resent. Frames from one socket are handled in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from walletdesk.channels.webchat import events, frames, service, transcript, views
from walletdesk.channels.webchat.connection import (
    BinaryFrame,
    ChatConnection,
    Disconnected,
    binary_error,
    drain_disconnect,
    flooding_error,
)
from walletdesk.channels.webchat.history import CHANNEL, conversation_messages, external_id
from walletdesk.channels.webchat.identity import (
    IdentityRejected,
    Resume,
    new_public_id,
    resume_token,
)
from walletdesk.channels.webchat.limits import TokenBucket, WindowCounter
from walletdesk.channels.webchat.models import ConversationStatus
from walletdesk.channels.webchat.protocol import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    ProtocolError,
    client_ip,
    domain_error,
    parse_frame,
    unavailable,
)
from walletdesk.channels.webchat.queue import QueueFigures
from walletdesk.channels.webchat.sites import Site
from walletdesk.channels.webchat.welcome import identify, read_chat
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import DomainError, InvalidInput
from walletdesk.core.tickets.appending import FollowUpDraft
from walletdesk.core.tickets.numbers import find_ticket_numbers
from walletdesk.security.shield import Shielded, shield_text

if TYPE_CHECKING:
    from walletdesk.channels.webchat.hub import ChatHub

log = logging.getLogger(__name__)


class CustomerChat(ChatConnection):
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
        self._last_queue: tuple[Any, ...] | None = None
        self._online: bool | None = None
        self.messages = TokenBucket(self.settings.messages_per_second, self.settings.message_burst)
        self.hints = TokenBucket(
            self.settings.hints_per_second, int(self.settings.hints_per_second * 2) + 1
        )
        self.errors = WindowCounter(self.settings.max_errors_per_minute)

    # --- run ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.start_writer()
        try:
            hello = await self._hello()
            if hello is None:
                return
            self.hold()
            try:
                if not await self._welcome(hello):
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

    async def _hello(self) -> frames.Hello | None:
        try:
            raw = await asyncio.wait_for(self.receive_text(), self.settings.hello_timeout_seconds)
            frame = parse_frame(
                raw, frames.CUSTOMER_FRAMES, max_bytes=self.settings.max_frame_bytes
            )
        except TimeoutError:
            self.fail(
                ProtocolError(
                    "hello_timeout",
                    "send a hello frame first",
                    fatal=True,
                    close_code=CLOSE_HELLO_TIMEOUT,
                )
            )
            return None
        except BinaryFrame:
            self.fail(
                ProtocolError("hello_required", "the first frame must be a hello", fatal=True)
            )
            return None
        except ProtocolError as exc:
            exc.fatal = True
            self.fail(exc)
            return None
        if not isinstance(frame, frames.Hello):
            self.fail(
                ProtocolError("hello_required", "the first frame must be a hello", fatal=True)
            )
            return None
        return frame

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

    # --- hello --------------------------------------------------------------------------------

    async def _welcome(self, hello: frames.Hello) -> bool:
        secret_key = self.hub.runtime.settings.resolved_secret_key()
        try:
            visitor = identify(self.site, self.settings, secret_key, hello)
        except IdentityRejected as exc:
            self.fail(
                ProtocolError(exc.code, exc.message, fatal=True, close_code=CLOSE_UNAUTHORIZED)
            )
            return False
        self.resume = visitor.resume
        self.conversation = visitor.resume.conversation
        self.sender = visitor.sender
        self.also_known_as = visitor.also_known_as
        self.locale = visitor.locale
        # Registered before the state is read: what happens meanwhile is held, not lost.
        self.hub.add_customer(self)
        self.send(await self._state(hello.last_seen_id, visitor.resume, secret_key))
        return True

    async def _state(self, after: int, resume: Resume, secret_key: str) -> dict[str, Any]:
        self.contact_id = None
        state = await read_chat(
            self.hub.runtime.db, self.settings, resume.conversation, after=after
        )
        self.status, self.tier = state.status, state.tier
        self.ticket_id, self.ticket_number = state.ticket_id, state.ticket_number
        figures, history = state.figures, state.history
        for message in history:
            self.first_delivery(int(message["id"]))
        self._online = state.agents_online and self.site.is_open()
        frame: dict[str, Any] = {
            "type": "welcome",
            "conversation": resume.conversation,
            "token": resume_token(secret_key, resume),
            "verified": self.sender.verified,
            "status": self.status,
            "ticket": self.ticket_number,
            "agent": state.agent,
            "rating": state.rating,
            "follow_up": state.follow_up,
            "answer_by": state.answer_by,
            "customer_read_id": state.customer_read_id,
            "agent_read_id": state.agent_read_id,
            "history": history,
            "more": state.more,
            "online": self._online,
            "open": self.site.is_open(),
            "queue": figures.frame(resume.conversation) if figures else None,
            "limits": {
                "max_text_chars": self.settings.max_text_chars,
                "max_attachment_bytes": self.settings.max_attachment_bytes,
                "attachment_types": list(self.settings.allowed_attachment_types),
            },
        }
        if figures:
            self._last_queue = (frame["queue"]["position"], frame["queue"]["eta_seconds"])
        return frame

    # --- frames -------------------------------------------------------------------------------

    async def _handle(self, frame: frames.Frame) -> None:
        if isinstance(frame, frames.CustomerMessage):
            await self._message(frame)
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
            self._costly()
            await self._history(frame.after)
        elif isinstance(frame, frames.Rate):
            self._costly()
            async with self.hub.runtime.db.transaction() as session:
                await service.rate(session, self.conversation, frame.score, frame.comment)
        elif isinstance(frame, frames.End):
            self._costly()
            if self.status == "new":
                raise ProtocolError("no_conversation", "nothing to end yet")
            async with self.hub.runtime.db.transaction() as session:
                await service.end_by_customer(session, self.conversation)
            self.status = ConversationStatus.ENDED
        elif isinstance(frame, frames.Restart):
            self._costly()
            await self._restart()
        elif isinstance(frame, frames.ContactDetails):
            self._costly()
            await self._contact(frame)
        elif isinstance(frame, frames.TranscriptRequest):
            self._costly()
            await self._transcript(frame)
        elif isinstance(frame, frames.Hello):
            raise ProtocolError("already_welcomed", "hello is sent once per connection")

    def _costly(self, ref: str | None = None) -> None:
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

    async def _message(self, frame: frames.CustomerMessage) -> None:
        text = frame.text
        if len(text) > self.settings.max_text_chars:
            raise ProtocolError(
                "too_large",
                f"a message holds at most {self.settings.max_text_chars} characters",
                ref=frame.id,
            )
        if not text.strip():
            raise ProtocolError("bad_field", "text: must not be empty", ref=frame.id)
        if self.status == ConversationStatus.ENDED:
            raise ProtocolError(
                "conversation_ended",
                "this chat has ended: send restart to begin a new one",
                ref=frame.id,
            )
        self._costly(frame.id)
        shielded = shield_text(text)
        try:
            stored = await self._follow_up(frame.id, text, shielded) or await self._ingest(
                frame.id, text
            )
        except InvalidInput as exc:
            raise ProtocolError("bad_field", str(exc), ref=frame.id) from None
        except Exception:
            log.exception("webchat message %s could not be stored", frame.id)
            raise unavailable(frame.id) from None
        message_id, duplicate = stored
        self.first_delivery(message_id)
        ack: dict[str, Any] = {
            "type": "ack",
            "id": frame.id,
            "message_id": message_id,
            "ticket": self.ticket_number,
            "duplicate": duplicate,
        }
        if shielded.text != text:
            ack["text"] = shielded.text  # secrets were redacted before storing: show what was kept
        self.send(ack)
        message = {
            "id": message_id,
            "author": "customer",
            "text": shielded.text,
            "client_id": frame.id,
        }
        await self.hub.publish(
            events.to_conversation(
                self.conversation,
                {"type": "message", "conversation": self.conversation, "message": message},
                origin=self.id,
            )
        )

    async def _follow_up(
        self, client_id: str, text: str, shielded: Shielded
    ) -> tuple[int, bool] | None:
        """The fast path for a known chat; None when the message needs ingest()'s rules.

        A message quoting a ticket number goes to that ticket (ingest decides), and one for a
        ticket closed meanwhile opens a follow-up ticket (the writer hands it back).
        """
        if self.ticket_id is None or self.contact_id is None or find_ticket_numbers(text):
            return None
        appended = await self.hub.follow_ups.submit(
            FollowUpDraft(
                ticket_id=self.ticket_id,
                channel=CHANNEL,
                thread_key=self.conversation,
                contact_id=self.contact_id,
                external_id=external_id(self.conversation, client_id),
                text=shielded.text,
                redactions=shielded.redactions,
            )
        )
        return None if appended is None else (appended.message_id, appended.duplicate)

    async def _ingest(self, client_id: str, text: str) -> tuple[int, bool]:
        inbound = InboundMessage(
            channel=CHANNEL,
            external_id=external_id(self.conversation, client_id),
            sender=self.sender,
            text=text,
            thread_key=self.conversation,
            locale=self.locale,
            also_known_as=self.also_known_as,
        )
        # The first message of a chat opens (or joins) its own thread's ticket even when it
        # quotes another ticket's number; later ones follow ingest's usual rules.
        result = await self.hub.runtime.intake.ingest(inbound, open_new=self.ticket_id is None)
        if result.ticket_id != self.ticket_id:
            await self._record_ticket(result.ticket_id)
        if result.contact_id is not None and result.ticket_id == self.ticket_id:
            self.contact_id = result.contact_id
        return result.message_id, result.duplicate

    async def _record_ticket(self, ticket_id: int) -> None:
        assert self.resume is not None
        async with self.hub.runtime.db.transaction() as session:
            conversation = await service.record_customer_ticket(
                session,
                public_id=self.conversation,
                site_id=self.site.id,
                visitor=self.resume.visitor,
                sender=self.sender,
                locale=self.locale,
                ticket_id=ticket_id,
            )
            if conversation.ticket_id != self.ticket_id:
                summary = (await views.chat_summaries(session, [conversation]))[0]
                self.ticket_number = summary["ticket"]
            self.ticket_id = conversation.ticket_id
            self.tier = conversation.tier
            if self.status == "new":
                self.status = conversation.status

    async def _history(self, after: int) -> None:
        async with self.hub.runtime.db.transaction() as session:
            conversation = await service.find(session, self.conversation)
            messages, more = (
                await conversation_messages(
                    session, conversation, after=after, limit=self.settings.history_limit
                )
                if conversation
                else ([], False)
            )
        self.send({"type": "history", "messages": messages, "more": more})

    async def _restart(self) -> None:
        if self.status in ("new", "waiting", "active"):
            raise ProtocolError("conversation_open", "this chat is still open")
        assert self.resume is not None
        old = self.conversation
        self.resume = Resume(
            new_public_id(), self.site.id, self.resume.visitor, self.resume.user_id
        )
        self.conversation = self.resume.conversation
        self.hub.remove_customer(self, old)
        self.hold()
        self.hub.add_customer(self)
        secret_key = self.hub.runtime.settings.resolved_secret_key()
        try:
            self.send(await self._state(0, self.resume, secret_key))
        finally:
            self.release()

    async def _contact(self, frame: frames.ContactDetails) -> None:
        if not frame.email.strip() and not frame.phone.strip():
            raise ProtocolError("bad_field", "give an email or a phone number")
        async with self.hub.runtime.db.transaction() as session:
            conversation = await service.find(session, self.conversation)
            if conversation is None:
                raise ProtocolError("no_conversation", "send a message first")
            await service.add_contact_details(
                session, conversation, email=frame.email, phone=frame.phone
            )
            answer_by = await service.answer_channel(session, conversation.ticket_id)
        self.send({"type": "contact_saved", "answer_by": answer_by})

    async def _transcript(self, frame: frames.TranscriptRequest) -> None:
        if self.status == "new":
            raise ProtocolError("no_conversation", "nothing to send yet")
        if self.status != ConversationStatus.ENDED:
            raise ProtocolError("conversation_open", "a transcript is sent once the chat has ended")
        async with self.hub.runtime.db.transaction() as session:
            queued = await transcript.request_transcript(session, self.conversation, frame.email)
        self.send(
            {"type": "transcript_queued", "email": queued.email, "duplicate": queued.duplicate}
        )

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
        if online != self._online:
            self._online = online
            self.send({"type": "availability", "online": online, "open": self.site.is_open()})
        if self.status != "waiting":
            return
        frame = figures.frame(self.conversation)
        key = (frame["position"], frame["eta_seconds"])
        if key != self._last_queue:
            self._last_queue = key
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
