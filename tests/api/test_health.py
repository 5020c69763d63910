"""/healthz: the process is up. /readyz: the database answers, or which check failed."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from walletdesk.app import create_app
from walletdesk.settings import Settings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthz_and_readyz_on_a_working_database(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_is_503_naming_the_database_when_it_does_not_answer(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/walletdesk",
        embedded_worker=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
    finally:
        await app.state.runtime.close()
    assert health.status_code == 200  # the process itself is fine: do not restart it
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert list(body["checks"]) == ["database"]
    assert body["checks"]["database"].startswith("unreachable")
