"""Live-chat test helpers: a real uvicorn server in the test's loop, websocket clients, sites.

Clients wait for the frame they expect (with a generous timeout that only fires when the
frame never comes); frames that arrive meanwhile are kept for later expectations.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import AgentLogin, unique
from walletdesk.app import create_app
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.identity import identity_signature
from walletdesk.channels.webchat.sites import create_site
from walletdesk.core.actors import SYSTEM
from walletdesk.db import Database
from walletdesk.runtime import Runtime

ORIGIN = "http://wallet.test"
WAIT = 15.0


def test_settings(**overrides: Any) -> WebchatSettings:
    """Roomy limits, so only the tests about limits meet them."""
    values: dict[str, Any] = {
        "messages_per_second": 100.0,
        "message_burst": 200,
        "ip_messages_per_second": 1000.0,
        "ip_message_burst": 2000,
        "ip_max_connections": 200,
        "hints_per_second": 100.0,
        "heartbeat_seconds": 1.0,
        "queue_refresh_seconds": 2.0,
    }
    values.update(overrides)
    return WebchatSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class ChatServer:
    runtime: Runtime
    app: FastAPI
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 30)


async def start_server(runtime: Runtime, settings: WebchatSettings) -> ChatServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(runtime=runtime)
    app.state.webchat_settings = settings
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(WAIT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    return ChatServer(runtime, app, port, server, task)


@pytest.fixture
async def serve_chat(
    runtime: Runtime,
) -> AsyncIterator[Callable[..., Awaitable[ChatServer]]]:
    started: list[ChatServer] = []

    async def start(**overrides: Any) -> ChatServer:
        server = await start_server(runtime, test_settings(**overrides))
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def chat(serve_chat: Callable[..., Awaitable[ChatServer]]) -> ChatServer:
    return await serve_chat()


@dataclass(frozen=True)
class SiteInfo:
    id: int
    key: str
    secret: str


async def make_site(db: Database, origins: tuple[str, ...] = (ORIGIN,), **kwargs: Any) -> SiteInfo:
    async with db.transaction() as session:
        site = await create_site(
            session, SYSTEM, name=unique("Site "), origins=list(origins), **kwargs
        )
        return SiteInfo(site.id, site.key, site.identity_secret)


@pytest.fixture
async def site(db: Database) -> SiteInfo:
    return await make_site(db)


def signed(site: SiteInfo, user_id: str, *, lifetime: int = 3600, **extra: Any) -> dict[str, Any]:
    expires = int(time.time()) + lifetime
    return {
        "user_id": user_id,
        "expires": expires,
        "signature": identity_signature(site.secret, user_id, expires),
        **extra,
    }


@dataclass
class Client:
    """A websocket with a mailbox: `expect` takes the first frame matching, keeps the rest."""

    ws: ClientConnection
    mailbox: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def expect(self, kind: str, seconds: float = WAIT, **fields: Any) -> dict[str, Any]:
        def matches(frame: dict[str, Any]) -> bool:
            return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

        for i, frame in enumerate(self.mailbox):
            if matches(frame):
                return self.mailbox.pop(i)
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await self.ws.recv())
                if matches(frame):
                    return frame
                self.mailbox.append(frame)

    async def expect_message(self, text: str, seconds: float = WAIT) -> dict[str, Any]:
        """The `message` frame carrying this text."""
        for i, frame in enumerate(self.mailbox):
            if frame.get("type") == "message" and frame["message"]["text"] == text:
                return self.mailbox.pop(i)
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame.get("type") == "message" and frame["message"]["text"] == text:
                    return frame
                self.mailbox.append(frame)

    async def closed(self, seconds: float = WAIT) -> int | None:
        """Read until the server closes; the close code."""
        async with asyncio.timeout(seconds):
            try:
                while True:
                    self.mailbox.append(json.loads(await self.ws.recv()))
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    def types(self) -> list[str]:
        return [str(f.get("type")) for f in self.mailbox]

    async def close(self) -> None:
        await self.ws.close()


async def open_customer(
    chat: ChatServer,
    site: SiteInfo,
    *,
    origin: str | None = ORIGIN,
    hello: dict[str, Any] | None = None,
    send_hello: bool = True,
) -> Client:
    """Connect and send hello; the welcome is left in the mailbox."""
    ws = await connect(
        f"{chat.ws_url}/webchat/ws?site={site.key}",
        origin=origin,  # type: ignore[arg-type]
        compression=None,
        open_timeout=WAIT,
    )
    client = Client(ws)
    if send_hello:
        await client.send(type="hello", **(hello or {}))
    return client


async def customer(chat: ChatServer, site: SiteInfo, **hello: Any) -> tuple[Client, dict[str, Any]]:
    """A welcomed customer and their welcome frame."""
    client = await open_customer(chat, site, hello=hello)
    return client, await client.expect("welcome")


async def open_agent(chat: ChatServer, login: AgentLogin) -> tuple[Client, dict[str, Any]]:
    ws = await connect(
        f"{chat.ws_url}/console/chat/ws",
        additional_headers={"Authorization": f"Bearer {login.token}"},
        compression=None,
        open_timeout=WAIT,
    )
    client = Client(ws)
    return client, await client.expect("hello")


async def online_agent(chat: ChatServer, login: AgentLogin) -> tuple[Client, dict[str, Any]]:
    client, hello = await open_agent(chat, login)
    await client.send(type="presence", presence="online")
    await client.expect("presence", presence="online")
    return client, hello


async def sign_in_cookie(chat: ChatServer, login: AgentLogin) -> httpx.Cookies:
    """Sign in through the console's real login form; the session cookie."""
    import re

    async with httpx.AsyncClient(base_url=chat.url) as client:
        page = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text
        response = await client.post(
            "/console/login",
            data={
                "csrf": token.group(1),
                "email": login.agent.email,
                "password": login.password,
                "next": "/console/",
            },
        )
        assert response.status_code == 303, response.text
        return client.cookies
