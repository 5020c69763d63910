"""Behind a load balancer: WALLETDESK_FORWARDED_ALLOW_IPS reaches uvicorn, and per-address
limits then count the client the proxy names, not the proxy."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from tests.channels.webchat.conftest import ORIGIN, make_site
from tests.channels.webchat.conftest import test_settings as chat_settings
from walletdesk.app import create_app
from walletdesk.cli import uvicorn_options
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings

WAIT = 15.0
CUSTOMER_A, CUSTOMER_B = "203.0.113.1", "203.0.113.2"


def _settings(**values: Any) -> Settings:
    return Settings(secret_key="t" * 32, _env_file=None, **values)  # type: ignore[call-arg]


def test_the_setting_reaches_uvicorns_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALLETDESK_FORWARDED_ALLOW_IPS", " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")
    options = uvicorn_options(_settings(), host="0.0.0.0", port=8000, workers=2)
    config = uvicorn.Config("walletdesk.app:create_served_app", factory=True, **options)
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 8000, 2)

    monkeypatch.delenv("WALLETDESK_FORWARDED_ALLOW_IPS")
    assert uvicorn_options(_settings(), host="h", port=1, workers=1)["forwarded_allow_ips"] == [
        "127.0.0.1"
    ]
    assert _settings(forwarded_allow_ips="*").trusted_proxies == ["*"]
    assert _settings(forwarded_allow_ips="").trusted_proxies == []


@pytest.mark.parametrize("value", ["lb.example.com", "10.0.0.0/33", "10.0.0.1;10.0.0.2"])
def test_a_value_that_is_not_an_address_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="IP addresses or networks"):
        _settings(forwarded_allow_ips=value)


Serve = Callable[[str], Awaitable[str]]


@pytest.fixture
async def serve(runtime: Runtime) -> AsyncIterator[Serve]:
    """A real uvicorn configured as `walletdesk serve` would be; one chat message per address."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(forwarded_allow_ips: str) -> str:
        settings = _settings(forwarded_allow_ips=forwarded_allow_ips)
        app = create_app(runtime=runtime)
        app.state.webchat_settings = chat_settings(offline_messages_per_minute=1)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        options = uvicorn_options(settings, host="127.0.0.1", port=0, workers=1)
        server = uvicorn.Server(uvicorn.Config(app, **{**options, "log_level": "warning"}))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        servers.append((server, task))
        async with asyncio.timeout(WAIT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)


async def _leave_messages(url: str, site_key: str, *clients: str) -> list[int]:
    codes = []
    async with httpx.AsyncClient(base_url=url, headers={"Origin": ORIGIN}) as http:
        for i, client in enumerate(clients):
            answer = await http.post(
                f"/webchat/api/offline?site={site_key}",
                json={"message": f"转账失败 {i}", "email": f"c{i}@example.com"},
                headers={"X-Forwarded-For": client},
            )
            codes.append(answer.status_code)
    return codes


async def test_forwarded_clients_are_limited_each_on_their_own(
    serve: Serve, runtime: Runtime
) -> None:
    site = await make_site(runtime.db)
    # Our proxy (loopback here) is trusted: each customer has their own allowance.
    trusting = await serve("127.0.0.0/8")
    codes = await _leave_messages(trusting, site.key, CUSTOMER_A, CUSTOMER_B, CUSTOMER_A)
    assert codes == [201, 201, 429]


async def test_an_untrusted_proxys_forwarded_for_is_ignored(serve: Serve, runtime: Runtime) -> None:
    site = await make_site(runtime.db)
    # Trusting another address only: the header is the client's word, the peer is counted.
    distrusting = await serve("10.1.2.3")
    assert await _leave_messages(distrusting, site.key, CUSTOMER_A, CUSTOMER_B) == [201, 429]
