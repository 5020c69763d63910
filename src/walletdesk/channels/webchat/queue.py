"""Queue position and estimated wait, from live figures.

For a tier: the waiting chats in order, the agents really available (presence online and
a chat client connected, see AgentHeartbeat), the chats they are already in, and the
recent handling time (accept → end) of that tier's chats. With `capacity` = agents ×
chats per agent and `free` = capacity − active chats, the chat at position p waits

    0                                   when p ≤ free (an agent can take it now)
    (p − free) × handling time / capacity   otherwise

and no estimate at all when nobody is online (the widget offers to leave a message).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
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


async def agents_available(
    session: AsyncSession, tier: int | None, settings: WebchatSettings
) -> int:
    """Agents online with a live chat client; `tier` None counts every tier."""
    fresh = utcnow() - timedelta(seconds=settings.heartbeat_stale_seconds)
    query = (
        select(func.count(func.distinct(Agent.id)))
        .join(AgentHeartbeat, AgentHeartbeat.agent_id == Agent.id)
        .where(
            Agent.presence == Presence.ONLINE,
            Agent.is_active.is_(True),
            AgentHeartbeat.seen_at >= fresh,
        )
    )
    if tier is not None:
        query = query.where(Agent.tier == tier)
    return int(await session.scalar(query) or 0)


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
    waiting = (
        await session.scalars(
            select(Conversation.public_id)
            .where(Conversation.status == ConversationStatus.WAITING, Conversation.tier == tier)
            .order_by(Conversation.queued_at, Conversation.id)
            .limit(MAX_QUEUE_READ)
        )
    ).all()
    active = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.status == ConversationStatus.ACTIVE, Conversation.tier == tier)
    )
    return QueueFigures(
        tier=tier,
        waiting=tuple(waiting),
        agents_online=await agents_available(session, tier, settings),
        active_chats=int(active or 0),
        handle_seconds=await handling_seconds(session, tier, settings),
        chats_per_agent=settings.chats_per_agent,
    )
