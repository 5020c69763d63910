"""This node's side of live chat: one bus subscription fanned out to the node's sockets.

Every node subscribes once to the `webchat` topic (Redis pub/sub when configured, else
in-process) and hands each event to the sockets it concerns here. A message sent on
node A reaches an agent on node B the same way it reaches one on node A: through the
bus, so there is one path to get right. The hub also keeps the node's agents'
heartbeats fresh and pushes queue positions to the customers waiting on this node.

Every `heartbeat_seconds` the hub marks its agents' clients and its customers' chats seen
(one statement each, whatever the number of sockets) and sweeps the shared database for
absences (absences.py): chats of agents gone longer than a grace go back to the queue,
waiting chats whose customer left long ago become follow-up tickets. New-chat alerts go
only to agents whose presence is online; the node learns presence changes from the bus and
re-reads its agents' presence at every heartbeat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from walletdesk.channels.webchat import absences, events
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.limits import IpLimits
from walletdesk.channels.webchat.models import AgentHeartbeat
from walletdesk.channels.webchat.protocol import CLOSE_GOING_AWAY, dumps
from walletdesk.channels.webchat.queue import (
    QueueFigures,
    agents_available,
    mark_customers_seen,
    queue_figures,
)
from walletdesk.channels.webchat.replies import (
    Reply,
    ReplyDraft,
    post_replies,
    settle_live_replies,
    settle_sent,
)
from walletdesk.channels.webchat.sites import SiteCache
from walletdesk.core.agents.models import Agent, Presence
from walletdesk.core.errors import DomainError
from walletdesk.core.events import Event
from walletdesk.core.group_commit import GroupCommit
from walletdesk.core.tickets.appending import Appended, FollowUpDraft, append_follow_ups
from walletdesk.db import insert_ignoring_conflicts, utcnow

if TYPE_CHECKING:
    from walletdesk.channels.webchat.agent_ws import AgentChat
    from walletdesk.channels.webchat.customer_ws import CustomerChat
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

QUEUE_DEBOUNCE_SECONDS = 0.3
BUS_RETRY_SECONDS = 2.0
# Customers' chats marked seen per statement.
TOUCH_BATCH = 500


class ChatHub:
    def __init__(self, runtime: Runtime, settings: WebchatSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.node = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.sites = SiteCache(runtime.db)
        self.ip_limits = IpLimits(
            settings.ip_max_connections, settings.ip_messages_per_second, settings.ip_message_burst
        )
        self._customers: dict[str, set[CustomerChat]] = {}
        self._watchers: dict[str, set[AgentChat]] = {}
        self._agents: dict[int, set[AgentChat]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue_pending: set[int] = set()
        # Counts presence events heard: a heartbeat's re-read of presence that raced one is
        # not applied (it may be older than the event).
        self._presence_events = 0
        self._ready = asyncio.Event()
        self._started = False
        self._lock = asyncio.Lock()
        # Customers' follow-up messages, many to a transaction under load (group commit).
        self.follow_ups: GroupCommit[FollowUpDraft, Appended | None] = GroupCommit(
            runtime.db, append_follow_ups
        )
        # Agents' chat messages, the same way; once pushed live, their delivery is settled
        # in batches of its own.
        self.settling: GroupCommit[int, None] = GroupCommit(runtime.db, settle_sent)
        self.replies: GroupCommit[ReplyDraft, Reply | DomainError] = GroupCommit(
            runtime.db,
            functools.partial(post_replies, live_grace=settings.live_delivery_grace_seconds),
            then=functools.partial(settle_live_replies, self.settling),
        )

    # --- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            self._started = True
            self._spawn(self._listen(), "webchat-listen")
            self._spawn(self._heartbeats(), "webchat-heartbeats")
            self._spawn(self._refresh_queues(), "webchat-queues")
        # Events published before the subscription exists would be lost: wait for it.
        with suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._ready.wait()

    async def stop(self) -> None:
        for conns in list(self._customers.values()) + list(self._agents.values()):
            for conn in list(conns):
                conn.close(CLOSE_GOING_AWAY, "server shutting down")
        # What was sent before the close is still written, whichever queue it waits in.
        for writes in (self.follow_ups, self.replies, self.settling):
            with suppress(Exception):
                await writes.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        if self._agents:
            # Not deleted: the agents' grace runs from now, and they may reconnect elsewhere.
            with suppress(Exception):
                async with self.runtime.db.transaction() as session:
                    await session.execute(
                        update(AgentHeartbeat)
                        .where(AgentHeartbeat.node == self.node, AgentHeartbeat.connected.is_(True))
                        .values(connected=False, seen_at=utcnow())
                    )
        self._started = False

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def publish(self, event: Event) -> None:
        await events.publish(self.runtime.bus, event)

    # --- who is here ------------------------------------------------------------------------

    def add_customer(self, conn: CustomerChat) -> None:
        self._customers.setdefault(conn.conversation, set()).add(conn)

    def remove_customer(self, conn: CustomerChat, conversation: str | None = None) -> None:
        key = conversation or conn.conversation
        conns = self._customers.get(key)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._customers[key]

    async def add_agent(self, conn: AgentChat) -> None:
        first = conn.actor_id not in self._agents
        self._agents.setdefault(conn.actor_id, set()).add(conn)
        if first:
            await self._beat(conn.actor_id)
            await self.publish(events.queue_changed(conn.tier))

    async def remove_agent(self, conn: AgentChat) -> None:
        for pid in list(conn.watching):
            self.unwatch(conn, pid)
        conns = self._agents.get(conn.actor_id)
        if conns is None:
            return
        conns.discard(conn)
        if conns:
            return
        del self._agents[conn.actor_id]
        # The row stays, marked gone at this moment: no longer available, and any node can
        # tell when the agent's grace (agent_gone_grace_seconds) runs out.
        with suppress(Exception):
            async with self.runtime.db.transaction() as session:
                await session.execute(
                    update(AgentHeartbeat)
                    .where(
                        AgentHeartbeat.agent_id == conn.actor_id, AgentHeartbeat.node == self.node
                    )
                    .values(connected=False, seen_at=utcnow())
                )
            await self.publish(events.queue_changed(conn.tier))

    def watch(self, conn: AgentChat, conversation: str) -> None:
        conn.watching.add(conversation)
        self._watchers.setdefault(conversation, set()).add(conn)

    def unwatch(self, conn: AgentChat, conversation: str) -> None:
        conn.watching.discard(conversation)
        conns = self._watchers.get(conversation)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._watchers[conversation]

    def connection_count(self) -> dict[str, int]:
        return {
            "customers": sum(len(c) for c in self._customers.values()),
            "agents": sum(len(c) for c in self._agents.values()),
        }

    # --- events in ------------------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self.runtime.bus.subscribe(events.TOPIC) as stream:
                    if self._ready.is_set():  # back after losing the bus: hints were missed
                        self._broadcast({"type": "resync"})
                    self._ready.set()
                    async for event in stream:
                        try:
                            self.dispatch(event)
                        except Exception:
                            log.exception("webchat event dropped: %r", event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("webchat lost the event bus; resubscribing", exc_info=True)
            await asyncio.sleep(BUS_RETRY_SECONDS)

    def dispatch(self, event: Event) -> None:
        if event.get("gap"):  # this node's listener fell behind: clients fetch what they missed
            self._broadcast({"type": "resync"})
            for waiting in self._waiting_tiers():
                self.request_queue_refresh(waiting)
            return
        kind = event.get("k")
        frame = event.get("f")
        if kind == "q":
            self.request_queue_refresh(int(event["tier"]))
            return
        if kind == "p":
            self._presence_changed(int(event["a"]), str(event["p"]), event.get("o"))
            self.request_queue_refresh(int(event["tier"]))
            return
        if kind == "s":
            self.sites.forget(str(event["key"]))
            return
        if not isinstance(frame, dict):
            return
        if kind == "c":
            self._to_conversation(event, frame)
        elif kind == "t":
            tier = event.get("tier")
            # A new chat is offered to the agents who can take it: presence online.
            alert = frame.get("type") == "chat_waiting"
            text = dumps(frame)
            for conns in self._agents.values():
                for conn in conns:
                    if alert and conn.presence != Presence.ONLINE:
                        continue
                    if tier is None or conn.sees_all or conn.tier == tier:
                        conn.push(text)
        elif kind == "a":
            conns = self._agents.get(int(event["a"]), set())
            watch = event.get("w")
            text = dumps(frame)
            for conn in list(conns):
                if isinstance(watch, str):
                    self.watch(conn, watch)
                conn.push(text)

    def _to_conversation(self, event: Event, frame: dict[str, Any]) -> None:
        pid = str(event["c"])
        audience = event.get("to", "all")
        origin = event.get("o")
        targets: list[CustomerChat | AgentChat] = []
        if audience in ("customer", "all"):
            customers = self._customers.get(pid, ())
            for customer in customers:
                customer.observe(frame)
            targets.extend(customers)
        if audience in ("agent", "all"):
            targets.extend(self._watchers.get(pid, ()))
        if not targets:
            return
        message_id = None
        if frame.get("type") == "message":
            message_id = int(frame["message"]["id"])
        text = dumps(frame)
        for conn in targets:
            if conn.id == origin:
                continue
            if message_id is not None and not conn.first_delivery(message_id):
                continue
            conn.push(text)

    def _broadcast(self, frame: dict[str, Any]) -> None:
        text = dumps(frame)
        for conns in list(self._customers.values()) + list(self._agents.values()):
            for conn in conns:
                conn.push(text)

    # --- agents' presence -------------------------------------------------------------------

    def _presence_changed(self, agent_id: int, presence: str, origin: object = None) -> None:
        """An agent's presence changed somewhere: their sockets here follow it."""
        self._presence_events += 1
        for conn in list(self._agents.get(agent_id, ())):
            self._set_presence(conn, presence, tell=conn.id != origin)

    def _set_presence(self, conn: AgentChat, presence: str, *, tell: bool = True) -> None:
        if conn.presence == presence:
            return
        was_online = conn.presence == Presence.ONLINE
        conn.presence = presence
        if tell:
            conn.push(dumps({"type": "presence", "presence": presence}))
        if presence == Presence.ONLINE and not was_online:
            # New-chat alerts skipped this socket meanwhile: hello again with fresh lists.
            self._spawn(self._hello_again(conn), f"webchat-hello-{conn.actor_id}")

    async def _hello_again(self, conn: AgentChat) -> None:
        if conn.closed:
            return
        try:
            await conn.hello()
        except Exception:
            log.warning("webchat could not refresh an agent's lists", exc_info=True)

    # --- queue positions --------------------------------------------------------------------

    def request_queue_refresh(self, tier: int) -> None:
        """Recompute positions for this node's customers in the tier, at most every 0.3 s."""
        if tier in self._queue_pending:
            return
        self._queue_pending.add(tier)
        self._spawn(self._refresh_later(tier), f"webchat-queue-{tier}")

    async def _refresh_later(self, tier: int) -> None:
        await asyncio.sleep(QUEUE_DEBOUNCE_SECONDS)
        self._queue_pending.discard(tier)
        try:
            await self.refresh_queue(tier)
        except Exception:
            log.warning("webchat queue refresh for L%s failed", tier, exc_info=True)

    async def refresh_queue(self, tier: int) -> None:
        waiting = [
            conn
            for conns in self._customers.values()
            for conn in conns
            if conn.tier == tier and conn.status in ("new", "waiting")
        ]
        if not waiting:
            return
        async with self.runtime.db.transaction() as session:
            figures = await queue_figures(session, tier, self.settings)
        for conn in waiting:
            conn.update_queue(figures)

    async def figures(self, tier: int) -> QueueFigures:
        async with self.runtime.db.transaction() as session:
            return await queue_figures(session, tier, self.settings)

    async def agents_online(self, tier: int) -> int:
        async with self.runtime.db.transaction() as session:
            return await agents_available(session, tier, self.settings)

    async def _refresh_queues(self) -> None:
        """Waits change as time passes and agents' heartbeats expire: refresh now and then."""
        while True:
            await asyncio.sleep(self.settings.queue_refresh_seconds)
            for tier in self._waiting_tiers():
                self.request_queue_refresh(tier)

    def _waiting_tiers(self) -> set[int]:
        return {
            conn.tier
            for conns in self._customers.values()
            for conn in conns
            if conn.status in ("new", "waiting")
        }

    # --- agent heartbeats -------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            for step in (self._beat_agents, self._touch_customers, self._sweep):
                try:
                    await step()
                except Exception:
                    log.warning("webchat %s failed", step.__name__, exc_info=True)

    async def _beat_agents(self) -> None:
        """Refresh this node's connected agents' rows; re-read their presence (a change made
        where no event was sent, such as signing in, reaches alerts this way)."""
        if not self._agents:
            return
        heard = self._presence_events
        async with self.runtime.db.transaction() as session:
            await session.execute(
                update(AgentHeartbeat)
                .where(AgentHeartbeat.node == self.node, AgentHeartbeat.connected.is_(True))
                .values(seen_at=utcnow())
            )
            rows = await session.execute(
                select(Agent.id, Agent.presence).where(Agent.id.in_(list(self._agents)))
            )
            presence = {int(agent_id): str(value) for agent_id, value in rows}
        if heard != self._presence_events:
            return  # an event came meanwhile and may be newer than what was read
        for agent_id, value in presence.items():
            for conn in list(self._agents.get(agent_id, ())):
                self._set_presence(conn, value)

    async def _touch_customers(self) -> None:
        """Mark the open chats of this node's customers seen (the queue counts them)."""
        seen = sorted(
            {
                pid
                for pid, conns in self._customers.items()
                if any(c.status in ("waiting", "active") for c in conns)
            }
        )
        if not seen:
            return
        for start in range(0, len(seen), TOUCH_BATCH):
            # A transaction per batch: no batch's row locks are held while the next is taken.
            async with self.runtime.db.transaction() as session:
                await mark_customers_seen(session, seen[start : start + TOUCH_BATCH])

    async def _sweep(self) -> None:
        """Absences, read from the shared database: any node may do it, each chat once."""
        db = self.runtime.db
        async with db.transaction() as session:
            gone = await absences.chats_of_gone_agents(session, self.settings)
            abandoned = await absences.abandoned_chats(session, self.settings)
            await absences.forget_old_heartbeats(session, self.settings)
        for pid in gone:
            try:
                async with db.transaction() as session:
                    if await absences.requeue_from_gone_agent(session, pid, self.settings):
                        log.info("webchat %s back in the queue: its agent is gone", pid)
            except Exception:
                log.warning("webchat could not requeue %s", pid, exc_info=True)
        for pid in abandoned:
            try:
                async with db.transaction() as session:
                    if await absences.end_abandoned(session, pid, self.settings):
                        log.info("webchat %s became a follow-up: its customer left", pid)
            except Exception:
                log.warning("webchat could not turn %s into a follow-up", pid, exc_info=True)

    async def _beat(self, agent_id: int) -> None:
        now = utcnow()
        async with self.runtime.db.transaction() as session:
            await session.execute(
                update(AgentHeartbeat)
                .where(AgentHeartbeat.node == self.node, AgentHeartbeat.agent_id == agent_id)
                .values(seen_at=now, connected=True)
            )
            await session.execute(
                insert_ignoring_conflicts(session, AgentHeartbeat).values(
                    agent_id=agent_id, node=self.node, seen_at=now
                )
            )
