"""Creating agents, signing them in, and resolving API tokens to actors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.agents.credentials import (
    MIN_PASSWORD_LENGTH,
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
    verify_totp,
)
from walletdesk.core.agents.models import Agent, ApiToken, Presence, Role, Team
from walletdesk.core.audit.service import record
from walletdesk.core.contacts.identities import normalize_email
from walletdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from walletdesk.core.tickets.models import TIERS
from walletdesk.db import utcnow


def actor_for(agent: Agent, kind: str = "agent") -> Actor:
    return Actor(
        kind="api" if kind == "api" else "agent",
        agent_id=agent.id,
        name=agent.name,
        role=agent.role,
        tier=agent.tier,
        locale=agent.locale,
    )


async def team_for_tier(session: AsyncSession, tier: int) -> Team | None:
    """The tier's queue: its first team."""
    return await session.scalar(select(Team).where(Team.tier == tier).order_by(Team.id).limit(1))


async def ensure_tier_teams(session: AsyncSession) -> None:
    """Every tier needs a queue for escalation to land in."""
    names = {1: "L1 Frontline", 2: "L2 Technical", 3: "L3 Complaints"}
    for tier in TIERS:
        if await team_for_tier(session, tier) is None:
            session.add(Team(name=names[tier], tier=tier))
    await session.flush()


async def create_agent(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    tier: int = 1,
    password: str | None = None,
    locale: str = "zh-CN",
) -> Agent:
    email = normalize_email(email)
    if role not in set(Role):
        raise InvalidInput("role", f"must be one of {', '.join(Role)}")
    if tier not in TIERS:
        raise InvalidInput("tier", "must be 1, 2 or 3")
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict(f"an agent with email {email} already exists")
    await ensure_tier_teams(session)
    team = await team_for_tier(session, tier)
    agent = Agent(
        email=email,
        name=name.strip(),
        role=role,
        tier=tier,
        team_id=team.id if team else None,
        password_hash=hash_password(password) if password else None,
        locale=locale,
        presence=Presence.OFFLINE,
    )
    session.add(agent)
    await session.flush()
    await record(session, actor, "agent.created", "agent", agent.id, email=email, role=role)
    return agent


async def get_agent_by_email(session: AsyncSession, email: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        raise NotFound(f"no agent with email {email}")
    return agent


async def list_agents(session: AsyncSession) -> Sequence[Agent]:
    return (await session.scalars(select(Agent).order_by(Agent.tier, Agent.name))).all()


@dataclass(frozen=True, slots=True)
class SignIn:
    agent: Agent | None
    needs_totp: bool = False


async def authenticate(
    session: AsyncSession, email: str, password: str, totp_code: str | None = None
) -> SignIn:
    """Check a console login. The caller shows one message for every failure."""
    agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    ok = verify_password(agent.password_hash if agent else None, password)
    if agent is None or not ok or not agent.is_active:
        return SignIn(None)
    if agent.totp_secret:
        if not totp_code:
            return SignIn(None, needs_totp=True)
        if not verify_totp(agent.totp_secret, totp_code):
            return SignIn(None, needs_totp=True)
    agent.last_login_at = utcnow()
    return SignIn(agent)


async def create_api_token(
    session: AsyncSession, actor: Actor, agent: Agent, name: str
) -> tuple[ApiToken, str]:
    """A new token for `agent`; the secret is returned once and only its hash is stored."""
    secret = new_api_token()
    token = ApiToken(
        agent_id=agent.id, name=name or "api", token_hash=hash_api_token(secret), prefix=secret[:8]
    )
    session.add(token)
    await session.flush()
    await record(session, actor, "token.created", "agent", agent.id, token_id=token.id, name=name)
    return token, secret


async def actor_for_token(session: AsyncSession, secret: str) -> Actor | None:
    row = (
        await session.execute(
            select(Agent, ApiToken.id)
            .join(ApiToken, ApiToken.agent_id == Agent.id)
            .where(
                ApiToken.token_hash == hash_api_token(secret),
                ApiToken.revoked_at.is_(None),
                Agent.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    return actor_for(row[0], kind="api")


async def set_presence(session: AsyncSession, agent_id: int, presence: str) -> None:
    if presence not in set(Presence):
        raise InvalidInput("presence", f"must be one of {', '.join(Presence)}")
    await session.execute(update(Agent).where(Agent.id == agent_id).values(presence=presence))


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


async def deactivate_agent(session: AsyncSession, actor: Actor, agent_id: int) -> None:
    """Stop an agent signing in; their open console sessions end at their next request."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may deactivate agents")
    result = await session.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(is_active=False, presence=Presence.OFFLINE, session_epoch=Agent.session_epoch + 1)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no agent {agent_id}")
    await record(session, actor, "agent.deactivated", "agent", agent_id)
