"""A PostgreSQL restart costs the requests in flight one 503, never a 500; then all is well."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import AgentLogin
from walletdesk.runtime import Runtime


async def _kill_our_connections(runtime: Runtime) -> int:
    url = runtime.db.url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        killed = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return len(killed)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_connections_killed_under_the_pool_give_a_503_then_recover(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    headers = {"Authorization": f"Bearer {l1_agent.token}"}
    runtime.settings.api_token_cache_seconds = 0  # every request asks the database
    assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 200
    assert await _kill_our_connections(runtime) >= 1
    statuses = []
    for _ in range(3):
        response = await client.get("/api/v1/tickets", headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert "try again" in response.json()["error"]
    # Without pre-ping the first request meets a dead connection; the pool is then rebuilt.
    assert statuses[0] == 503 and statuses[-1] == 200
    assert 500 not in statuses
