"""Agent updates the console needs that core/agents/service.py does not have yet.

TO BE MOVED to walletdesk.core.agents.service (its owner was asked for them); the console
then imports them from there and this file goes. They follow the service rules: take the
caller's session, never commit, record the audit entry in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.agents.credentials import verify_totp
from walletdesk.core.agents.models import Agent
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput
from walletdesk.db import utcnow

LOCALES = ("zh-CN", "en")


async def set_locale(session: AsyncSession, actor: Actor, agent_id: int, locale: str) -> None:
    """The language the agent's console speaks."""
    if locale not in LOCALES:
        raise InvalidInput("locale", f"must be one of {', '.join(LOCALES)}")
    await session.execute(update(Agent).where(Agent.id == agent_id).values(locale=locale))
    await record(session, actor, "agent.locale_changed", "agent", agent_id, locale=locale)


async def enable_totp(
    session: AsyncSession, actor: Actor, agent_id: int, secret: str, code: str
) -> None:
    """Turn on two-step sign-in once the agent proved their authenticator shows `code`."""
    if not verify_totp(secret, code):
        raise InvalidInput("code", "the code does not match; check the authenticator's clock")
    await session.execute(update(Agent).where(Agent.id == agent_id).values(totp_secret=secret))
    await record(session, actor, "agent.totp_enabled", "agent", agent_id)


async def complete_totp_sign_in(session: AsyncSession, agent: Agent, code: str) -> bool:
    """Second step of a sign-in whose password `authenticate` already accepted."""
    if not agent.is_active or not agent.totp_secret or not verify_totp(agent.totp_secret, code):
        return False
    agent.last_login_at = utcnow()
    return True
