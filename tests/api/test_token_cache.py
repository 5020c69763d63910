"""API tokens are remembered for a short, configurable time; revocation takes effect after it."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from tests.conftest import make_agent
from walletdesk.core.agents.models import ApiToken
from walletdesk.db import utcnow
from walletdesk.runtime import Runtime


async def _revoke_all(runtime: Runtime, agent_id: int) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.agent_id == agent_id).values(revoked_at=utcnow())
        )


async def test_without_cache_a_revoked_token_is_refused_at_once(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    runtime.settings.api_token_cache_seconds = 0
    login = await make_agent(runtime.db)
    assert (await client.get("/api/v1/tickets", headers=login.headers)).status_code == 200
    await _revoke_all(runtime, login.agent.id)
    refused = await client.get("/api/v1/tickets", headers=login.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "the API token is unknown or revoked"


async def test_cached_token_lives_until_its_entry_expires(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    runtime.settings.api_token_cache_seconds = 30
    login = await make_agent(runtime.db)
    assert (await client.get("/api/v1/tickets", headers=login.headers)).status_code == 200
    await _revoke_all(runtime, login.agent.id)
    # Documented trade-off: within the cache time the token still works on this node.
    assert (await client.get("/api/v1/tickets", headers=login.headers)).status_code == 200
    other = await make_agent(runtime.db)
    await _revoke_all(runtime, other.agent.id)
    # A token never seen before is checked against the database.
    assert (await client.get("/api/v1/tickets", headers=other.headers)).status_code == 401
