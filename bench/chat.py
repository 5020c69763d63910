"""Live chat under load: C conversations, each with a customer and an agent socket.

The script starts the servers itself (`walletdesk serve`, plus a `walletdesk worker` for
the outbox, which delivers every agent reply a second time: the copy the hub must drop),
on PostgreSQL with its schema dropped and migrated again:

  one node    one `serve` process, in-process event bus; customers and agents on it;
  two nodes   two `serve` processes sharing PostgreSQL and Redis; every customer on
              node A, every agent on node B, so every message crosses Redis.

It opens C customer conversations (hello, a first message that opens the ticket) and C
agent sockets (one agent per chat, API token), each agent accepting its chat. Then for
D seconds it sends R messages a second in total, alternating customer → agent and
agent → customer over the conversations, and prints the delivery latency each way
(p50/p99/max, from the sender's send to the receiver's socket), messages delivered per
second, messages lost (never delivered within the grace period) and duplicated
(delivered twice to one socket), and the server's memory per open connection.

    uv run python bench/chat.py                                   # 200 chats, 100 msg/s
    uv run python bench/chat.py -c 2000 -r 500 -d 30 --nodes 1,2  # the issue's targets
    uv run python bench/chat.py --pg-url postgresql+asyncpg://postgres@127.0.0.1/mine

The load generator shares the machine's cores with the servers: figures are pessimistic.
For the measured phase it takes the serving process's garbage-collector settings (see
`settle_garbage_collector`), so its own pauses with 4,000 sockets open are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import gc
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _server import Server, kill_leftover_servers
from _support import (
    DEFAULT_PG_URL,
    BenchError,
    Latencies,
    cpu_delta,
    cpu_of,
    fail,
    group_pids,
    machine_notes,
    recreate_pg_schema,
    table,
)
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from walletdesk.app import settle_garbage_collector
from walletdesk.channels.webchat.service import accept
from walletdesk.channels.webchat.sites import create_site
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for, create_agent, create_api_token, set_presence
from walletdesk.core.tickets.models import MESSAGES
from walletdesk.db import Database

ORIGIN = "http://bench.walletdesk.test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SETUP_CONCURRENCY = 25
GRACE_SECONDS = 15.0
DEFAULT_GC_THRESHOLDS = gc.get_threshold()

# The bench speaks for thousands of users from one address: lift the per-IP guards.
BENCH_ENV = {
    "WALLETDESK_WEBCHAT_IP_MAX_CONNECTIONS": "100000",
    "WALLETDESK_WEBCHAT_IP_MESSAGES_PER_SECOND": "100000",
    "WALLETDESK_WEBCHAT_IP_MESSAGE_BURST": "100000",
    "WALLETDESK_WEBCHAT_MESSAGES_PER_SECOND": "50",
    "WALLETDESK_WEBCHAT_MESSAGE_BURST": "100",
}


@dataclass
class Tracker:
    """Send and first-delivery times by message key; repeats are duplicates."""

    sent: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closed: int = 0
    sending_done: bool = False
    # What was sent, to resend on `unavailable` or `rate_limited`, as the widget does.
    frames: dict[str, tuple[ClientConnection, str]] = field(default_factory=dict)
    resent: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def receive(self, text: str) -> None:
        if not text.startswith("bench "):
            return
        key = text[6:]
        if key in self.delivered:
            self.duplicates += 1
        elif key in self.sent:
            self.delivered[key] = time.perf_counter()
            self.check()

    def check(self) -> None:
        if self.sending_done and len(self.delivered) >= len(self.sent):
            self.all_in.set()

    def latencies(self, prefix: str) -> Latencies:
        return Latencies(
            [
                (self.delivered[k] - t0) * 1000
                for k, t0 in self.sent.items()
                if k.startswith(prefix) and k in self.delivered
            ]
        )

    def lost(self) -> int:
        return sum(1 for k in self.sent if k not in self.delivered)


@dataclass
class Pair:
    conversation: str
    customer: ClientConnection
    agent: ClientConnection


async def _frames(ws: ClientConnection, tracker: Tracker, author: str) -> None:
    """Read a socket to the end: deliveries of the other side's messages are recorded."""
    try:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message" and frame["message"].get("author") == author:
                tracker.receive(frame["message"]["text"])
            elif kind == "error":
                code = frame.get("code", "?")
                tracker.errors[code] += 1
                again = tracker.frames.get(frame.get("ref") or "")
                if again and code in ("unavailable", "rate_limited"):
                    tracker.resent += 1
                    asyncio.get_running_loop().call_later(
                        float(frame.get("retry_after") or 1.0),
                        lambda w=again[0], t=again[1]: asyncio.ensure_future(_resend(w, t)),
                    )
    except ConnectionClosed:
        pass
    tracker.closed += 1


async def _resend(ws: ClientConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)


async def _expect(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame
            if frame.get("type") == "error":
                raise BenchError(f"the server refused during setup: {frame}")


async def _open_customer(url: str, site_key: str, index: int) -> tuple[str, ClientConnection]:
    customer = await connect(
        f"{url}/webchat/ws?site={site_key}",
        origin=ORIGIN,  # type: ignore[arg-type]
        compression=None,
        open_timeout=60,
        max_queue=None,
    )
    await customer.send(json.dumps({"type": "hello", "locale": "zh-CN"}))
    welcome = await _expect(customer, "welcome")
    await customer.send(
        json.dumps({"type": "message", "id": "open", "text": f"压测会话 {index}：转账未到账"})
    )
    await _expect(customer, "ack")
    return str(welcome["conversation"]), customer


async def _open_agent(url: str, token: str) -> ClientConnection:
    agent = await connect(
        f"{url}/console/chat/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        open_timeout=60,
        max_queue=None,
    )
    hello = await _expect(agent, "hello")
    if len(hello["mine"]) != 1:
        raise BenchError(f"an agent holds {len(hello['mine'])} chats, expected 1")
    return agent


async def _accept_all(url: str, agent_ids: list[int], conversations: list[str]) -> None:
    """Each agent accepts its chat through the service, as its `accept` frame would.

    Done before the agents connect: C agents accepting live would tell every other agent
    of the tier each time (C² frames), which a real team of tens of agents never meets.
    """
    db = Database(url)
    try:
        for start in range(0, len(conversations), 100):
            async with db.transaction() as session:
                for agent_id, pid in zip(
                    agent_ids[start : start + 100], conversations[start : start + 100], strict=True
                ):
                    agent = await session.get(Agent, agent_id)
                    assert agent is not None
                    await accept(session, actor_for(agent), pid)
    finally:
        await db.dispose()


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


async def _prepare(url: str, conversations: int) -> tuple[str, list[int], list[str]]:
    """A site and one agent (online, with an API token) per conversation."""
    db = Database(url)
    tokens = []
    agent_ids = []
    try:
        async with db.transaction() as session:
            site = await create_site(session, SYSTEM, name="bench", origins=[ORIGIN])
            key = site.key
            for i in range(conversations):
                agent = await create_agent(
                    session,
                    SYSTEM,
                    email=f"bench-agent-{i}@walletdesk.test",
                    name=f"压测客服 {i}",
                    role="agent",
                    tier=1,
                )
                await set_presence(session, agent.id, "online")
                _, token = await create_api_token(session, SYSTEM, agent, "bench")
                tokens.append(token)
                agent_ids.append(agent.id)
    finally:
        await db.dispose()
    return key, agent_ids, tokens


@dataclass
class Result:
    nodes: int
    conversations: int
    rate: float
    seconds: float
    tracker: Tracker
    memory_per_connection_kib: float
    server_cpu_seconds: float


async def run_phase(
    *,
    nodes: int,
    conversations: int,
    rate: float,
    duration: float,
    pg_url: str,
    redis_url: str,
    workdir: Path,
) -> Result:
    await recreate_pg_schema(pg_url)
    site_key, agent_ids, tokens = await _prepare(pg_url, conversations)
    os.environ.update(BENCH_ENV)
    servers = [
        Server(
            database_url=pg_url,
            data_dir=workdir / f"node{n}",
            workers=1,
            redis_url=redis_url if nodes > 1 else "",
        )
        for n in range(nodes)
    ]
    worker = None
    try:
        for server in servers:
            await server.start()
        worker = await _start_worker(pg_url, redis_url if nodes > 1 else "", workdir)
        server_pids = [pid for s in servers if s.process for pid in group_pids(s.process.pid)]
        idle_rss = rss_kib(server_pids)
        customer_url = servers[0].url.replace("http", "ws", 1)
        agent_url = servers[-1].url.replace("http", "ws", 1)
        tracker = Tracker()
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def customer(i: int) -> tuple[str, ClientConnection]:
            async with gate:
                return await _open_customer(customer_url, site_key, i)

        async def agent(i: int) -> ClientConnection:
            async with gate:
                return await _open_agent(agent_url, tokens[i])

        started = time.perf_counter()
        customers = await asyncio.gather(*(customer(i) for i in range(conversations)))
        await _accept_all(pg_url, agent_ids, [pid for pid, _ in customers])
        agents = await asyncio.gather(*(agent(i) for i in range(conversations)))
        pairs = [
            Pair(pid, ws, agent_ws) for (pid, ws), agent_ws in zip(customers, agents, strict=True)
        ]
        print(
            f"  {conversations} conversations open in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        readers = [asyncio.create_task(_frames(p.agent, tracker, "customer")) for p in pairs]
        readers += [asyncio.create_task(_frames(p.customer, tracker, "agent")) for p in pairs]
        # This process holds all 4,000 sockets: its own full collections (200–340 ms each,
        # measured with gc.callbacks) were counted as delivery latency. It takes the
        # serving process's GC settings for the measured phase.
        settle_garbage_collector()
        await asyncio.sleep(1.0)
        open_rss = rss_kib(server_pids)
        cpu_before = cpu_of(server_pids)

        await _drive(pairs, tracker, rate, duration)
        tracker.sending_done = True
        tracker.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tracker.all_in.wait(), GRACE_SECONDS)
        await asyncio.sleep(1.0)  # late duplicates (the outbox copy) would show here
        cpu = cpu_delta(cpu_before, cpu_of(server_pids))
        await _explain_lost(pg_url, tracker)
        for pair in pairs:
            await pair.customer.close()
            await pair.agent.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
        return Result(
            nodes=nodes,
            conversations=conversations,
            rate=rate,
            seconds=duration,
            tracker=tracker,
            memory_per_connection_kib=(open_rss - idle_rss) / (2 * conversations),
            server_cpu_seconds=cpu,
        )
    finally:
        for server in servers:
            counts = server.status_counts()
            if counts:
                print(f"  server log {server.log_path}: {dict(counts)}", flush=True)
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            await worker.wait()
        for server in servers:
            await server.stop()


async def _explain_lost(pg_url: str, tracker: Tracker) -> None:
    """Say which messages never arrived and whether the server stored them (and how often)."""
    lost = [k for k in tracker.sent if k not in tracker.delivered]
    if not lost:
        return
    db = Database(pg_url)
    try:
        async with db.transaction() as session:
            for key in lost[:10]:
                stored = await session.scalar(
                    select(func.count()).where(MESSAGES.c.body_text == f"bench {key}")
                )
                print(f"  lost {key}: stored {stored} time(s)", flush=True)
    finally:
        await db.dispose()


async def _start_worker(pg_url: str, redis_url: str, workdir: Path) -> asyncio.subprocess.Process:
    env = dict(
        os.environ,
        WALLETDESK_DATABASE_URL=pg_url,
        WALLETDESK_REDIS_URL=redis_url,
        WALLETDESK_DATA_DIR=str(workdir / "worker"),
    )
    (workdir / "worker").mkdir(parents=True, exist_ok=True)
    log = (workdir / "worker.log").open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from walletdesk.cli import main; main()",
        "worker",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _drive(pairs: list[Pair], tracker: Tracker, rate: float, duration: float) -> None:
    """R messages a second in total, alternating direction, round-robin over the chats."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while True:
        elapsed = loop.time() - start
        if elapsed >= duration:
            return
        due = int(elapsed * rate)
        while sent < due:
            pair = pairs[(sent // 2) % len(pairs)]
            if sent % 2 == 0:
                key = f"c{sent}"
                frame = {"type": "message", "id": key, "text": f"bench {key}"}
                ws = pair.customer
            else:
                key = f"a{sent}"
                frame = {
                    "type": "message",
                    "conversation": pair.conversation,
                    "id": key,
                    "text": f"bench {key}",
                }
                ws = pair.agent
            text = json.dumps(frame)
            tracker.sent[key] = time.perf_counter()
            tracker.frames[key] = (ws, text)
            with contextlib.suppress(ConnectionClosed):
                await ws.send(text)
            sent += 1
        await asyncio.sleep(0.002)


def report(results: list[Result]) -> None:
    print()
    print(machine_notes())
    rows = []
    for r in results:
        t = r.tracker
        for label, prefix in (("customer → agent", "c"), ("agent → customer", "a")):
            lat = t.latencies(prefix)
            rows.append(
                (
                    f"{r.nodes} node{'s' if r.nodes > 1 else ''}",
                    label,
                    len([k for k in t.sent if k.startswith(prefix)]),
                    len(lat.values_ms),
                    lat.p50,
                    lat.p99,
                    lat.max,
                )
            )
    print()
    print(table(["setup", "direction", "sent", "delivered", "p50 ms", "p99 ms", "max ms"], rows))
    print()
    summary = []
    for r in results:
        t = r.tracker
        summary.append(
            (
                f"{r.nodes} node{'s' if r.nodes > 1 else ''}",
                r.conversations,
                r.rate,
                len(t.delivered) / r.seconds,
                t.lost(),
                t.duplicates,
                r.memory_per_connection_kib,
                r.server_cpu_seconds / r.seconds * 100,
                (", ".join(f"{k}×{v}" for k, v in t.errors.items()) or "-")
                + (f" ({t.resent} resent)" if t.resent else ""),
            )
        )
    print(
        table(
            [
                "setup",
                "chats",
                "target msg/s",
                "delivered msg/s",
                "lost",
                "duplicated",
                "KiB/connection",
                "server CPU %",
                "errors",
            ],
            summary,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--conversations", type=int, default=200)
    parser.add_argument("-r", "--rate", type=float, default=100.0, help="messages/s, in total")
    parser.add_argument("-d", "--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--nodes", default="1,2", help="which setups: 1, 2 or 1,2")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep", type=Path, help="keep server logs in this folder")
    args = parser.parse_args()
    setups = sorted({int(n) for n in args.nodes.split(",") if n.strip()})
    if not setups or any(n not in (1, 2) for n in setups):
        fail("--nodes takes 1, 2 or 1,2")
    if args.conversations < 1 or args.rate <= 0 or args.duration <= 0:
        fail("conversations, rate and duration must be positive")
    atexit.register(kill_leftover_servers)
    results = []
    with (
        contextlib.nullcontext(str(args.keep))
        if args.keep
        else tempfile.TemporaryDirectory(prefix="wd-chat-bench-")
    ) as tmp:
        for nodes in setups:
            print(
                f"{nodes} node(s): {args.conversations} chats, {args.rate:g} msg/s for "
                f"{args.duration:g} s",
                flush=True,
            )
            try:
                results.append(
                    asyncio.run(
                        run_phase(
                            nodes=nodes,
                            conversations=args.conversations,
                            rate=args.rate,
                            duration=args.duration,
                            pg_url=args.pg_url,
                            redis_url=args.redis_url,
                            workdir=Path(tmp) / f"n{nodes}",
                        )
                    )
                )
            except BenchError as exc:
                fail(str(exc))
    report(results)


if __name__ == "__main__":
    main()
