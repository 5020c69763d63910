"""What crosses the bus for live chat, on one topic that every node's hub listens to.

Envelopes (short keys, they are on the hot path):
    {"k": "c", "c": <conversation>, "to": "customer"|"agent"|"all", "o": <origin>, "f": <frame>}
    {"k": "t", "tier": <tier or null = every agent>, "f": <frame>}       agents of a tier
    {"k": "a", "a": <agent id>, "w": <conversation to watch or null>, "f": <frame>}
    {"k": "q", "tier": <tier>}                                          the queue changed
    {"k": "p", "a": <agent id>, "tier": <tier>, "p": <presence>, "o": <origin>}
                                  an agent's presence changed (socket or console page)
    {"k": "s", "key": <site key>}                  a site changed: drop its cached copy
The frame `f` is sent to the matching sockets as it is. Events are hints: a client that
missed one reloads from history.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.events import Event, EventBus, emit

TOPIC = "webchat"

Audience = Literal["customer", "agent", "all"]


def to_conversation(
    conversation: str, frame: dict[str, Any], to: Audience = "all", origin: str | None = None
) -> Event:
    return {"k": "c", "c": conversation, "to": to, "o": origin, "f": frame}


def to_tier(tier: int | None, frame: dict[str, Any]) -> Event:
    return {"k": "t", "tier": tier, "f": frame}


def to_agent(agent_id: int, frame: dict[str, Any], watch: str | None = None) -> Event:
    return {"k": "a", "a": agent_id, "w": watch, "f": frame}


def queue_changed(tier: int) -> Event:
    return {"k": "q", "tier": tier}


def presence_changed(agent_id: int, tier: int, presence: str, origin: str | None = None) -> Event:
    """The agent's sockets learn it (alerts follow it), and the tier's queue is refigured."""
    return {"k": "p", "a": agent_id, "tier": tier, "p": presence, "o": origin}


def site_changed(key: str) -> Event:
    return {"k": "s", "key": key}


def emit_chat(session: AsyncSession, event: Event) -> None:
    """Publish once the session's transaction commits (dropped on rollback)."""
    emit(session, TOPIC, event)


async def publish(bus: EventBus, event: Event) -> None:
    await bus.publish(TOPIC, event)
