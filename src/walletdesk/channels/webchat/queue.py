"""Queue position and estimated wait, from live figures.

For a tier: the waiting chats whose customer is still around (seen within
`customer_recent_seconds`; a chat whose customer left stops counting, see
Conversation.last_seen_at), in order; the agents really available (presence online and a
chat client connected, see AgentHeartbeat); the chats those agents are already in; and the
recent handling time (accept → end) of that tier's chats. With `capacity` = agents × chats
per agent and `free` = capacity − active chats, the chat at position p waits

    0                                   when p ≤ free (an agent can take it now)
    (p − free) × handling time / capacity   otherwise

and no estimate at all when nobody is online (the widget offers to leave a message).

Routing uses the same rule for who is available (`available_agents`): a chat is transferred
only to an available agent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.models import AgentHeartbeat, Conversation, ConversationStatus
from walletdesk.core.agents.models import Agent, Presence
from walletdesk.db import utcnow

MAX_QUEUE_READ = 5000


@dataclass(frozen=True, slots=True)
class QueueFigures:
    tier: int
    waiting: tuple[str, ...]
    agents_online: int
    active_chats: int
    handle_seconds: float
    chats_per_agent: int
    _positions: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self._positions.update({pid: i + 1 for i, pid in enumerate(self.waiting)})

    def position(self, conversation: str) -> int | None:
        return self._positions.get(conversation)

    def eta_seconds(self, position: int) -> int | None:
        if self.agents_online <= 0:
            return None
        capacity = self.agents_online * self.chats_per_agent
        free = max(capacity - self.active_chats, 0)
        if position <= free:
            return 0
        return math.ceil((position - free) * self.handle_seconds / capacity)

    def frame(self, conversation: str) -> dict[str, object]:
        position = self.position(conversation)
        return {
            "type": "queue",
            "position": position,
            "eta_seconds": self.eta_seconds(position) if position else None,
            "agents_online": self.agents_online,
        }


def available_agents(settings: WebchatSettings, tier: int | None = None) -> Select[int]:
    """Agents routing may count on: active, presence online, and a chat client connected
    and heard from within `heartbeat_stale_seconds` on some node; `tier` None: every tier.

    The rows are shared by every node (the database), so any node answers the same.
    """
    fresh = utcnow() - timedelta(seconds=settings.heartbeat_stale_seconds)
    query = (
        select(Agent.id)
        .join(AgentHeartbeat, AgentHeartbeat.agent_id == Agent.id)
        .where(
            Agent.presence == Presence.ONLINE,
            Agent.is_active.is_(True),
            AgentHeartbeat.connected.is_(True),
            AgentHeartbeat.seen_at >= fresh,
        )
    )
    if tier is not None:
        query = query.where(Agent.tier == tier)
    return query


async def agents_available(
    session: AsyncSession, tier: int | None, settings: WebchatSettings
) -> int:
    """How many agents are available (`available_agents`); `tier` None counts every tier."""
    ids = available_agents(settings, tier).distinct().subquery()
    return int(await session.scalar(select(func.count()).select_from(ids)) or 0)


async def is_available(session: AsyncSession, agent_id: int, settings: WebchatSettings) -> bool:
    """Whether routing may give this agent a chat now (`available_agents`)."""
    found = await session.scalar(available_agents(settings).where(Agent.id == agent_id).limit(1))
    return found is not None


async def handling_seconds(session: AsyncSession, tier: int, settings: WebchatSettings) -> float:
    rows = (
        await session.execute(
            select(Conversation.accepted_at, Conversation.ended_at)
            .where(
                Conversation.tier == tier,
                Conversation.ended_at.is_not(None),
                Conversation.accepted_at.is_not(None),
                Conversation.ended_at >= utcnow() - timedelta(days=7),
            )
            .order_by(Conversation.ended_at.desc())
            .limit(settings.handle_time_sample)
        )
    ).all()
    spans = [
        (ended - accepted).total_seconds()
        for accepted, ended in rows
        if accepted is not None and ended is not None and ended >= accepted
    ]
    if len(spans) < 3:  # too few to say anything; keep the configured assumption
        return float(settings.default_handle_seconds)
    return sum(spans) / len(spans)


async def queue_figures(
    session: AsyncSession, tier: int, settings: WebchatSettings
) -> QueueFigures:
    recent = utcnow() - timedelta(seconds=settings.customer_recent_seconds)
    waiting = (
        await session.scalars(
            select(Conversation.public_id)
            .where(
                Conversation.status == ConversationStatus.WAITING,
                Conversation.tier == tier,
                # A customer who left is not ahead of anyone (they get their place back
                # when their widget reconnects: queued_at does not change).
                Conversation.last_seen_at >= recent,
            )
            .order_by(Conversation.queued_at, Conversation.id)
            .limit(MAX_QUEUE_READ)
        )
    ).all()
    # Only the chats of the agents counted in the capacity take up a place in it.
    active = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.status == ConversationStatus.ACTIVE,
            Conversation.agent_id.in_(available_agents(settings, tier)),
        )
    )
    return QueueFigures(
        tier=tier,
        waiting=tuple(waiting),
        agents_online=await agents_available(session, tier, settings),
        active_chats=int(active or 0),
        handle_seconds=await handling_seconds(session, tier, settings),
        chats_per_agent=settings.chats_per_agent,
    )


async def mark_customers_seen(session: AsyncSession, public_ids: list[str]) -> None:
    """Mark these chats' customers seen now (their sockets are open on this node).

    A chat row another transaction holds is skipped, never waited for: its customer is seen
    again at the next heartbeat, while waiting for up to hundreds of rows in one statement
    is how deadlocks start with any transaction that locks several chats. The lock taken is
    FOR NO KEY UPDATE, which a chat message's insert (its foreign key takes KEY SHARE on the
    chat) does not wait for; FOR UPDATE would hold the messages of up to 500 chats for as
    long as the statement runs (tens to hundreds of ms under bench/chat.py's load).
    """
    chosen = select(Conversation.id).where(
        Conversation.public_id.in_(public_ids), Conversation.status != ConversationStatus.ENDED
    )
    if session.get_bind().dialect.name == "postgresql":
        # SQLite: one writer, no row locks.
        chosen = chosen.with_for_update(skip_locked=True, key_share=True)
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(chosen.scalar_subquery()))
        .values(last_seen_at=utcnow())
        .execution_options(synchronize_session=False)
    )
