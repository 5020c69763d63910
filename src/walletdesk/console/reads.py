"""Read-only lookups the console needs and core does not offer (yet). Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.agents.models import Agent


async def load_agent(session: AsyncSession, agent_id: int) -> Agent | None:
    return await session.get(Agent, agent_id)


async def agent_by_email(session: AsyncSession, email: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


async def agent_names(session: AsyncSession, agent_ids: Iterable[int | None]) -> dict[int, str]:
    """Names for a page of tickets or messages, in one query."""
    wanted = {agent_id for agent_id in agent_ids if agent_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted)))
    return {row.id: row.name for row in rows}
