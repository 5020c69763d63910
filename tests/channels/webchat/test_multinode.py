"""Two `walletdesk serve` processes sharing PostgreSQL and Redis: customer on A, agent on B."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.channels.webchat.conftest import WAIT, Client, SiteInfo, make_site
from tests.conftest import make_agent
from walletdesk.channels.webchat.absences import BACK_IN_QUEUE
from walletdesk.core.agents.service import set_presence
from walletdesk.db import Database

READY_SECONDS = 60.0


class Node:
    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        self.name = name
        self.env = env
        self.data_dir = data_dir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log = data_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from walletdesk.cli import main; main()",
                "serve",
                "--port",
                str(self.port),
                env=self.env,
                cwd=self.data_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        async with httpx.AsyncClient(timeout=2) as client:
            async with asyncio.timeout(READY_SECONDS):
                while True:
                    assert self.process.returncode is None, self.log.read_text()
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{self.url}/readyz")).status_code == 200:
                            return
                    await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    def errors(self) -> list[str]:
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if "Traceback" in line or " ERROR " in line
        ]


@pytest.fixture
async def nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Node, Node]]:
    env = dict(os.environ)
    env.update(
        WALLETDESK_DATABASE_URL=postgres_url,
        WALLETDESK_REDIS_URL=redis_url,
        WALLETDESK_DATA_DIR=str(tmp_path),
        # One install: both nodes must read each other's resume tokens.
        WALLETDESK_SECRET_KEY=secrets.token_urlsafe(32),
        WALLETDESK_WEBCHAT_HEARTBEAT_SECONDS="2",
        # An agent's chats go back to the queue 8 s after their client was last heard from.
        WALLETDESK_WEBCHAT_AGENT_GONE_GRACE_SECONDS="8",
    )
    pair = (Node("a", env, tmp_path), Node("b", env, tmp_path))
    try:
        await asyncio.gather(*(node.start() for node in pair))
        yield pair
    finally:
        await asyncio.gather(*(node.stop() for node in pair))


async def _customer(node: Node, site: SiteInfo, **hello: object) -> tuple[Client, dict]:
    ws = await connect(
        f"{node.ws_url}/webchat/ws?site={site.key}",
        origin="http://wallet.test",  # type: ignore[arg-type]
        compression=None,
        open_timeout=WAIT,
    )
    client = Client(ws)
    await client.send(type="hello", **hello)
    return client, await client.expect("welcome")


async def test_customer_on_one_node_agent_on_the_other(
    nodes: tuple[Node, Node], postgres_url: str
) -> None:
    a, b = nodes
    db = Database(postgres_url)
    try:
        site = await make_site(db)
        login = await make_agent(db, "agent", 1)
    finally:
        await db.dispose()

    customer, welcome = await _customer(a, site)
    pid = welcome["conversation"]
    ws = await connect(
        f"{b.ws_url}/console/chat/ws",
        additional_headers={"Authorization": f"Bearer {login.token}"},
        compression=None,
        open_timeout=WAIT,
    )
    agent = Client(ws)
    await agent.expect("hello")
    await agent.send(type="presence", presence="online")
    await agent.expect("presence")
    # Presence on node B reaches the customer's widget on node A.
    await customer.expect("availability", online=True)

    await customer.send(type="message", id="n1", text="节点 A 上的客户")
    ack = await customer.expect("ack", id="n1")
    waiting = await agent.expect("chat_waiting")
    assert waiting["chat"]["conversation"] == pid
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await customer.expect("status", status="active")

    await customer.send(type="typing", active=True)
    await agent.expect("typing", by="customer")
    await agent.send(type="typing", conversation=pid, active=True)
    await customer.expect("typing", by="agent")

    await customer.send(type="message", id="n2", text="跨节点消息")
    n2 = await customer.expect("ack", id="n2")
    assert (await agent.expect_message("跨节点消息"))["message"]["id"] == n2["message_id"]
    await agent.send(type="message", conversation=pid, id="r1", text="节点 B 上的客服")
    reply = await agent.expect("ack", id="r1")
    got = await customer.expect_message("节点 B 上的客服")
    assert got["message"]["id"] == reply["message_id"]
    await customer.send(type="read", up_to=reply["message_id"])
    await agent.expect("read", by="customer")

    # The customer's phone switches networks and lands on node B: same chat, nothing lost.
    await customer.close()
    moved, again = await _customer(b, site, token=welcome["token"])
    assert again["conversation"] == pid
    assert again["ticket"] == ack["ticket"]
    texts = [m["text"] for m in again["history"]]
    assert texts == ["节点 A 上的客户", "跨节点消息", "节点 B 上的客服"]
    await agent.send(type="message", conversation=pid, id="r2", text="还在吗？")
    await moved.expect_message("还在吗？")
    await moved.close()
    await agent.close()
    assert a.errors() == [] and b.errors() == []


async def test_a_node_that_dies_hands_its_agents_chats_back_to_the_queue(
    nodes: tuple[Node, Node], postgres_url: str
) -> None:
    """The agent's node B is killed (no clean-up at all): its heartbeats stop, and node A,
    reading the shared database, puts the chat back in the queue for its customer on A."""
    a, b = nodes
    db = Database(postgres_url)
    try:
        site = await make_site(db)
        login = await make_agent(db, "agent", 1)
    finally:
        await db.dispose()
    customer, welcome = await _customer(a, site, locale="en")
    pid = welcome["conversation"]
    ws = await connect(
        f"{b.ws_url}/console/chat/ws",
        additional_headers={"Authorization": f"Bearer {login.token}"},
        compression=None,
        open_timeout=WAIT,
    )
    agent = Client(ws)
    await agent.expect("hello")
    await agent.send(type="presence", presence="online")
    await agent.expect("presence")
    await customer.send(type="message", id="k1", text="Payment stuck")
    ack = await customer.expect("ack", id="k1")
    await agent.send(type="accept", conversation=pid)
    await agent.expect("conversation")
    await customer.expect("status", status="active")

    assert b.process is not None
    os.killpg(b.process.pid, signal.SIGKILL)
    await b.process.wait()
    with contextlib.suppress(Exception):
        await agent.close()
    try:
        status = await customer.expect("status", status="waiting", seconds=45)
        assert status["agent"] is None
        notice = await customer.expect_message(BACK_IN_QUEUE["en"])
        assert notice["message"]["author"] == "system"
        await customer.close()
        # The chat is the same: back on node A, its ticket and history are there.
        again, rewelcome = await _customer(a, site, token=welcome["token"])
        assert (rewelcome["status"], rewelcome["ticket"]) == ("waiting", ack["ticket"])
        texts = [m["text"] for m in rewelcome["history"]]
        assert texts == ["Payment stuck", BACK_IN_QUEUE["en"]]
        await again.close()
        assert a.errors() == []
    finally:
        # Node B's row of the agent stays "connected" until it goes stale (a minute): so
        # that later tests do not count this agent as available meanwhile, they sign off.
        db = Database(postgres_url)
        try:
            async with db.transaction() as session:
                await set_presence(session, login.agent.id, "offline")
        finally:
            await db.dispose()
