"""How fast email becomes tickets: SMTP into the built-in server, until each is a ticket message.

The script starts the SMTP server in --processes child processes sharing one port, as
`walletdesk serve --workers N` does (a fresh SQLite file, or PostgreSQL with its schema
dropped and migrated again), or uses one already running (--target with --database-url).
C relay-like clients, each on one SMTP connection, send M emails
(realistic zh-CN/en bodies, base64 GB18030 or UTF-8, every one from a new customer, so
every one opens a ticket, stores a contact and queues an acknowledgement). It prints:

  accepted/s    emails answered 250 per second over the whole run;
  smtp p50/p99  MAIL FROM → 250 after DATA, per email (we answer 250 only once stored);
  visible       MAIL FROM → the message is seen in the database by a separate reader
                polling every few milliseconds (p50/p99/max);
  server CPU    milliseconds of the server processes per email (all of them together).

    uv run python bench/email_intake.py              # SQLite, 1,000 emails, 8 clients
    uv run python bench/email_intake.py --backend postgresql --pg-url postgresql+asyncpg://…/db
    uv run python bench/email_intake.py --backend postgresql --processes 2 -c 32 -n 5000
    uv run python bench/email_intake.py --target 127.0.0.1:2525 --database-url sqlite+aiosqlite:///…
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

import _corpus
import aiosmtplib
from _support import (
    DEFAULT_PG_URL,
    BenchError,
    Latencies,
    fail,
    machine_notes,
    process_cpu_seconds,
    recreate_pg_schema,
    table,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from walletdesk.core.tickets.models import Message
from walletdesk.migrate import upgrade_async

SUPPORT = "support@walletdesk.test"
READY_TIMEOUT_S = 60.0
VISIBLE_POLL_S = 0.005
WARMUP = 20


@dataclass
class Sample:
    started: float
    accepted: float = float("nan")
    visible: float = float("nan")


@dataclass
class Run:
    samples: dict[str, Sample] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    first: float = 0.0
    last: float = 0.0


def build_email(rng: random.Random, n: int, run_id: str) -> tuple[str, bytes]:
    message_id = f"<bench-{run_id}-{n}@mail.example.cn>"
    subject, body = _corpus.subject(rng), _corpus.body(rng)
    charset = rng.choice(["gb18030", "utf-8"])
    quoted = "\n\n在 2026年11月26日 周四 10:02,客服 写道:\n> 请提供订单号。\n> 谢谢\n" * 3
    payload = base64.encodebytes((body + quoted).encode(charset)).decode().replace("\n", "\r\n")
    head = (
        f"From: =?utf-8?B?{base64.b64encode('客户'.encode()).decode()}?= "
        f"<c-{run_id}-{n}@example.cn>\r\n"
        f"To: {SUPPORT}\r\nSubject: {Header(subject, charset).encode()}\r\n"
        f"Message-ID: {message_id}\r\nDate: Thu, 26 Nov 2026 10:02:00 +0800\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n"
    )
    return message_id, (head + "\r\n" + payload).encode()


async def send_all(
    host: str, port: int, emails: list[tuple[str, bytes]], clients: int, run: Run
) -> None:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in emails:
        queue.put_nowait(item)

    async def client() -> None:
        smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=60)
        await smtp.connect()
        try:
            while not queue.empty():
                message_id, raw = queue.get_nowait()
                sender = f"relay-{uuid.uuid4().hex[:6]}@example.cn"
                sample = run.samples.setdefault(message_id, Sample(time.perf_counter()))
                try:
                    await smtp.sendmail(sender, [SUPPORT], raw)
                    sample.accepted = time.perf_counter()
                except aiosmtplib.SMTPException as exc:
                    run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        finally:
            await smtp.quit()

    await asyncio.gather(*(client() for _ in range(clients)))


async def watch_visible(database_url: str, run: Run, done: asyncio.Event) -> None:
    """A separate reader: when each email's message row first shows up.

    It asks for the emails not seen yet by Message-ID (rows commit out of id order, so
    "rows after the last id seen" would miss some). A plain engine, not walletdesk's: on
    SQLite that one begins every transaction IMMEDIATE (a write lock), and a reader polling
    every few milliseconds would queue with the server's writers instead of reading beside them.
    """
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            while True:
                waiting = [i for i, s in run.samples.items() if s.visible != s.visible]
                found: list[str] = []
                for start in range(0, len(waiting), 500):
                    rows = await conn.execute(
                        select(Message.external_id).where(
                            Message.channel == "email",
                            Message.external_id.in_(waiting[start : start + 500]),
                        )
                    )
                    found.extend(str(row[0]) for row in rows)
                await conn.rollback()  # the next poll sees what committed since
                now = time.perf_counter()
                for external_id in found:
                    run.samples[external_id].visible = now
                if done.is_set() and len(found) == len(waiting):
                    return
                if done.is_set() and not found:
                    return
                await asyncio.sleep(VISIBLE_POLL_S)
    finally:
        await engine.dispose()


def start_server(port: int, database_url: str, workdir: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--serve", "--port", str(port)]
    command += ["--database-url", database_url, "--data-dir", str(workdir)]
    return subprocess.Popen(command, start_new_session=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(host: str, port: int, child: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise BenchError(f"the SMTP server exited with {child.returncode}")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise BenchError(f"nothing listens on {host}:{port} after {READY_TIMEOUT_S:.0f} s")


async def measure(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="walletdesk-bench-email-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        if args.target:
            host, _, port_text = args.target.rpartition(":")
            port, database_url = int(port_text), args.database_url
            if not database_url:
                raise BenchError("--target needs --database-url to see when mail became tickets")
        else:
            host, port = "127.0.0.1", free_port()
            if args.backend == "postgresql":
                database_url = args.pg_url
                await recreate_pg_schema(database_url)
            else:
                database_url = f"sqlite+aiosqlite:///{workdir / 'walletdesk.db'}"
                await upgrade_async(database_url)
            children = [start_server(port, database_url, workdir) for _ in range(args.processes)]
        for child in children or [None]:
            await wait_for_port(host, port, child)
        run_id = uuid.uuid4().hex[:8]
        warmup = [build_email(rng, n, run_id + "w") for n in range(WARMUP)]
        await send_all(host, port, warmup, min(args.clients, WARMUP), Run())
        emails = [build_email(rng, n, run_id) for n in range(args.messages)]
        run = Run()
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_visible(database_url, run, done))
        cpu_before = servers_cpu_seconds(children)
        run.first = time.perf_counter()
        await send_all(host, port, emails, args.clients, run)
        run.last = time.perf_counter()
        cpu_after = servers_cpu_seconds(children)
        await asyncio.sleep(0.5)
        done.set()
        await asyncio.wait_for(watcher, 30)
        report(args, run, (cpu_after - cpu_before) * 1000)
    finally:
        for child in children:
            os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def servers_cpu_seconds(children: list[subprocess.Popen[bytes]]) -> float:
    if not children:
        return float("nan")
    return sum(process_cpu_seconds(child.pid) for child in children)


def report(args: argparse.Namespace, run: Run, server_cpu_ms: float) -> None:
    samples = list(run.samples.values())
    accepted = [s for s in samples if s.accepted == s.accepted]
    visible = [s for s in samples if s.visible == s.visible]
    seconds = run.last - run.first
    smtp = Latencies([(s.accepted - s.started) * 1000 for s in accepted])
    seen = Latencies([(s.visible - s.started) * 1000 for s in visible])
    print(machine_notes())
    print(
        table(
            [
                *("backend", "processes", "emails", "clients", "accepted/s"),
                *("smtp p50 ms", "smtp p99 ms"),
                *("visible p50 ms", "visible p99 ms", "visible max ms", "server CPU ms/email"),
            ],
            [
                [
                    "external" if args.target else args.backend,
                    "-" if args.target else args.processes,
                    len(accepted),
                    args.clients,
                    len(accepted) / seconds if seconds else float("nan"),
                    smtp.p50,
                    smtp.p99,
                    seen.p50,
                    seen.p99,
                    seen.max,
                    server_cpu_ms / max(len(accepted), 1),
                ]
            ],
        )
    )
    missing = len(accepted) - len(visible)
    print(f"errors: {len(run.errors)}; accepted but never seen: {missing}")
    for error in sorted(set(run.errors))[:5]:
        print(f"  {error}")


def serve(args: argparse.Namespace) -> None:
    """The child: a runtime like `walletdesk serve` builds, with only the SMTP server."""
    from walletdesk.app import collect_fully_every, settle_garbage_collector
    from walletdesk.channels.email.adapter import EmailAdapter
    from walletdesk.channels.email.settings import EmailSettings
    from walletdesk.channels.email.smtp_server import start_smtp_server
    from walletdesk.runtime import build_runtime
    from walletdesk.settings import Settings

    async def main() -> None:
        settings = Settings(
            data_dir=Path(args.data_dir),
            database_url=args.database_url,
            embedded_worker=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = build_runtime(settings)
        settle_garbage_collector()
        collector = asyncio.create_task(collect_fully_every(settings.gc_full_collection_seconds))
        email_settings = EmailSettings(
            smtp_listen=f"127.0.0.1:{args.port}",
            support_addresses=SUPPORT,
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime.channels.register(EmailAdapter(runtime, email_settings))
        handle = await start_smtp_server(runtime, email_settings)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        collector.cancel()
        if handle:
            await handle.close()
        await runtime.close()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=1000)
    parser.add_argument("-c", "--clients", type=int, default=8, help="SMTP connections at once")
    parser.add_argument(
        "--processes", type=int, default=1, help="server processes on one port (serve --workers)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="its schema is dropped!")
    parser.add_argument("--target", help="host:port of a running WalletDesk SMTP server")
    parser.add_argument("--database-url", help="that server's database (with --target)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.messages < 1 or args.clients < 1 or args.processes < 1:
        fail("--messages, --clients and --processes must be at least 1")
    try:
        asyncio.run(measure(args))
    except BenchError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
