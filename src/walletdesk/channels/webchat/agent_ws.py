"""The agent's websocket: new chats as they arrive, accept, chat, transfer, end, presence.

Why a websocket and not SSE + POST: an agent's chat is as interactive as the customer's
(typing both ways, read receipts, several chats at once), one socket carries all of it
with one authentication, and the protocol, acks and resends are the customer's.

Authentication: the console session cookie (its path is /console, hence the address
/console/chat/ws), with the Origin checked against this server's so another site cannot
ride the cookie; or an API token as `Authorization: Bearer` for programs (the benchmark).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from walletdesk.channels.webchat import events, frames, service, views
from walletdesk.channels.webchat.connection import (
    BinaryFrame,
    ChatConnection,
    Disconnected,
    binary_error,
    drain_disconnect,
    flooding_error,
)
from walletdesk.channels.webchat.history import conversation_messages
from walletdesk.channels.webchat.limits import TokenBucket, WindowCounter
from walletdesk.channels.webchat.protocol import (
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    ProtocolError,
    client_ip,
    domain_error,
    parse_frame,
    unavailable,
)
from walletdesk.channels.webchat.replies import ReplyDraft
from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for_token
from walletdesk.core.errors import DomainError

if TYPE_CHECKING:
    from walletdesk.channels.webchat.hub import ChatHub

log = logging.getLogger(__name__)

AGENT_FRAMES_PER_SECOND = 20.0
AGENT_FRAME_BURST = 60


def same_origin(websocket: WebSocket, base_url: str) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return False
    host = websocket.headers.get("host", "")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    base = urlsplit(base_url)
    allowed = {f"{scheme}://{host}".lower(), f"{base.scheme}://{base.netloc}".lower()}
    return origin.rstrip("/").lower() in allowed


async def authenticate(websocket: WebSocket, hub: ChatHub) -> Actor | None:
    runtime = hub.runtime
    authorization = websocket.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        async with runtime.db.transaction() as session:
            return await actor_for_token(session, authorization[7:].strip())
    if not same_origin(websocket, runtime.settings.base_url):
        return None
    from walletdesk.console.session import signed_in_agent

    # The console reads only what HTTP requests and websockets share (cookies, state, app).
    agent = await signed_in_agent(cast(Request, websocket))
    return agent.actor if agent is not None else None


class AgentChat(ChatConnection):
    side = "agent"

    def __init__(self, websocket: WebSocket, hub: ChatHub, actor: Actor, ip: str) -> None:
        super().__init__(websocket, queue_size=hub.settings.send_queue_size * 4, ip=ip)
        assert actor.agent_id is not None
        self.hub = hub
        self.settings = hub.settings
        self.actor = actor
        self.actor_id: int = actor.agent_id
        self.tier = actor.tier
        self.sees_all = actor.sees_all_queues
        # As the hub last learnt it (hello, the bus, every heartbeat): new-chat alerts go
        # only to sockets of agents online.
        self.presence: str = "offline"
        self.watching: set[str] = set()
        self.frames = TokenBucket(AGENT_FRAMES_PER_SECOND, AGENT_FRAME_BURST)
        self.hints = TokenBucket(self.settings.hints_per_second * 2, 10)
        self.errors = WindowCounter(self.settings.max_errors_per_minute)

    async def run(self) -> None:
        self.start_writer()
        registered = False
        try:
            self.hold()
            await self.hub.add_agent(self)
            registered = True
            await self.hello()
            self.release()
            while not self.closed:
                await self._next_frame()
        except Disconnected:
            return
        except Exception:
            log.exception("webchat agent connection failed")
            self.fail(
                ProtocolError(
                    "internal",
                    "the server could not start the chat; reconnect",
                    fatal=True,
                    close_code=CLOSE_TRY_AGAIN,
                )
            )
        finally:
            if registered:
                await self.hub.remove_agent(self)
            if self.closed:
                await asyncio.sleep(0)
                await drain_disconnect(self.ws)
            await self.stop_writer()

    async def hello(self) -> None:
        """Who the agent is and their lists: on connecting, and again when their presence
        turns online (new-chat alerts skipped them meanwhile, so their list is refreshed)."""
        async with self.hub.runtime.db.transaction() as session:
            agent = await session.get(Agent, self.actor_id)
            lists = await views.agent_lists(session, self.actor)
            presence = agent.presence if agent else "offline"
            locale = agent.locale if agent else self.actor.locale
        self.presence = presence
        for chat in lists["mine"]:
            self.hub.watch(self, chat["conversation"])
        self.send(
            {
                "type": "hello",
                "agent": {
                    "id": self.actor_id,
                    "name": self.actor.name,
                    "tier": self.tier,
                    "role": self.actor.role,
                    "presence": presence,
                    "locale": locale,
                    "sees_all": self.sees_all,
                },
                "waiting": lists["waiting"],
                "mine": lists["mine"],
                "limits": {
                    "max_text_chars": self.settings.max_text_chars,
                    "max_attachment_bytes": self.settings.max_attachment_bytes,
                    "attachment_types": list(self.settings.allowed_attachment_types),
                },
            }
        )

    async def _next_frame(self) -> None:
        ref: str | None = None
        try:
            raw = await self.receive_text()
            frame = parse_frame(raw, frames.AGENT_FRAMES, max_bytes=self.settings.max_frame_bytes)
            ref = getattr(frame, "id", None)
            await self._handle(frame)
        except BinaryFrame:
            self._refuse(binary_error())
        except ProtocolError as exc:
            self._refuse(exc)
        except DomainError as exc:
            self._refuse(domain_error(exc, ref=getattr(exc, "ref", None)))
        except Disconnected:
            raise
        except (SQLAlchemyError, OSError, TimeoutError):
            log.warning("webchat agent frame: database unavailable", exc_info=True)
            self._refuse(unavailable(ref))
        except Exception:
            log.exception("webchat agent frame failed")
            self._refuse(ProtocolError("internal", "the server could not handle this frame"))

    def _refuse(self, error: ProtocolError) -> None:
        self.fail(error)
        if not error.fatal and not self.errors.hit():
            self.fail(flooding_error())

    def _watched(self, conversation: str) -> None:
        if conversation not in self.watching:
            raise ProtocolError("not_open", "open the conversation first")

    async def _handle(self, frame: frames.Frame) -> None:
        if isinstance(frame, frames.AgentTyping):
            self._watched(frame.conversation)
            if self.hints.take() == 0.0:
                await self.hub.publish(
                    events.to_conversation(
                        frame.conversation,
                        {
                            "type": "typing",
                            "conversation": frame.conversation,
                            "by": "agent",
                            "active": frame.active,
                            "name": self.actor.name,
                        },
                        to="customer",
                    )
                )
            return
        if isinstance(frame, frames.Ping):
            self.send({"type": "pong"})
            return
        wait = self.frames.take()
        if wait > 0:
            raise ProtocolError(
                "rate_limited",
                "too many requests; retry after retry_after",
                ref=getattr(frame, "id", None),
                retry_after=wait,
            )
        db = self.hub.runtime.db
        if isinstance(frame, frames.AgentMessage):
            await self._message(frame)
        elif isinstance(frame, frames.AgentRead):
            self._watched(frame.conversation)
            async with db.transaction() as session:
                await service.mark_read(session, frame.conversation, by="agent", up_to=frame.up_to)
        elif isinstance(frame, frames.Accept):
            async with db.transaction() as session:
                await service.accept(session, self.actor, frame.conversation)
            await self._open(frames.Watch(type="open", conversation=frame.conversation))
        elif isinstance(frame, frames.Watch):
            await self._open(frame)
        elif isinstance(frame, frames.Close):
            self.hub.unwatch(self, frame.conversation)
        elif isinstance(frame, frames.Transfer):
            async with db.transaction() as session:
                if frame.escalate:
                    await service.escalate(session, self.actor, frame.conversation, frame.reason)
                elif frame.to_agent is not None:
                    await service.transfer_to_agent(
                        session, self.actor, frame.conversation, frame.to_agent, self.settings
                    )
                else:
                    raise ProtocolError("bad_field", "give to_agent, or escalate with a reason")
            self.send({"type": "done", "action": "transfer", "conversation": frame.conversation})
        elif isinstance(frame, frames.AgentEnd):
            async with db.transaction() as session:
                await service.end_by_agent(
                    session, self.actor, frame.conversation, follow_up=frame.follow_up
                )
            self.send({"type": "done", "action": "end", "conversation": frame.conversation})
        elif isinstance(frame, frames.SetPresence):
            async with db.transaction() as session:
                await service.change_presence(
                    session, self.actor_id, self.tier, frame.presence, origin=self.id
                )
            self.send({"type": "presence", "presence": frame.presence})
        elif isinstance(frame, frames.ListAgents):
            async with db.transaction() as session:
                agents = await views.online_agents(session, self.actor, self.settings)
            self.send({"type": "agents", "agents": agents})

    async def _message(self, frame: frames.AgentMessage) -> None:
        if len(frame.text) > self.settings.max_text_chars:
            raise ProtocolError(
                "too_large",
                f"a message holds at most {self.settings.max_text_chars} characters",
                ref=frame.id,
            )
        if not frame.text.strip():
            raise ProtocolError("bad_field", "text: must not be empty", ref=frame.id)
        draft = ReplyDraft(self.actor, frame.conversation, frame.id, frame.text)
        try:
            reply = await self.hub.replies.submit(draft)
            if isinstance(reply, DomainError):
                raise reply
        except DomainError as exc:
            raise domain_error(exc, ref=frame.id) from None
        self.first_delivery(reply.message_id)
        self.send(
            {
                "type": "ack",
                "id": frame.id,
                "conversation": frame.conversation,
                "message_id": reply.message_id,
                "duplicate": reply.duplicate,
            }
        )

    async def _open(self, frame: frames.Watch) -> None:
        self.hold()
        try:
            async with self.hub.runtime.db.transaction() as session:
                if frame.conversation:
                    conversation = await service.find(session, frame.conversation)
                elif frame.ticket:
                    conversation = await views.conversation_for_ticket(
                        session, self.actor, frame.ticket
                    )
                else:
                    raise ProtocolError("bad_field", "give a conversation or a ticket")
                if conversation is None:
                    raise ProtocolError("not_found", "no chat here")
                await views.may_watch(session, self.actor, conversation)
                # Watch before reading, so a message stored meanwhile is held, not missed.
                self.hub.watch(self, conversation.public_id)
                summary = (await views.chat_summaries(session, [conversation]))[0]
                messages, more = await conversation_messages(
                    session, conversation, after=frame.after, limit=self.settings.history_limit
                )
            for message in messages:
                self.first_delivery(int(message["id"]))
            out: dict[str, Any] = {
                "type": "conversation",
                "chat": summary,
                "messages": messages,
                "more": more,
            }
            self.send(out)
        finally:
            self.release()


async def agent_socket(websocket: WebSocket, hub: ChatHub) -> None:
    await websocket.accept()
    try:
        actor = await authenticate(websocket, hub)
    except Exception:
        log.exception("webchat agent authentication failed")
        actor = None
    if actor is None or actor.agent_id is None:
        probe = ChatConnection(websocket, queue_size=4, ip=client_ip(websocket))
        probe.start_writer()
        probe.fail(
            ProtocolError(
                "unauthorized",
                "sign in to the console, or send an API token as Authorization: Bearer",
                fatal=True,
                close_code=CLOSE_UNAUTHORIZED,
            )
        )
        await asyncio.sleep(0)
        await drain_disconnect(websocket)
        await probe.stop_writer()
        return
    await AgentChat(websocket, hub, actor, client_ip(websocket)).run()
