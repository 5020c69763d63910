"""How fast tickets are created: through ingest() in-process and through the REST API.

For each backend (a fresh SQLite file; PostgreSQL with its schema dropped and migrated
again) it measures:

  core insert one INSERT per transaction through SQLAlchemy Core: the machine's ceiling
              right now, to divide the other rates by (PERFORMANCE.md has it quiet);
  ingest      N tickets through walletdesk.core.ingest.ingest (email-like inbound
              messages, each opening a ticket), C asyncio tasks at once;
  follow-up   F customer follow-ups per ticket through ingest, each quoting the ticket
              number (found by number, row locked, message stored);
  http        N × POST /api/v1/tickets with a bearer token against `walletdesk serve
              --workers W` that the script starts itself (or --url/--token), C clients.

Each phase runs a warm-up that is not counted, then prints operations/s, p50/p99/max
latency, errors, the CPU milliseconds each operation cost this process, the server
processes and the PostgreSQL backends, how many cores other programs used meanwhile, and
the rate that CPU cost would allow on free cores. bench/README.md explains the columns.

    uv run python bench/ingest.py                          # both backends, both paths
    uv run python bench/ingest.py --backends postgresql --paths http -c 8,16,32 -n 5000
    uv run python bench/ingest.py --url http://127.0.0.1:8000 --token wd_...
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import cProfile
import io
import math
import os
import pstats
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _corpus
import httpx
from _server import PySpy, Server, kill_leftover_servers, summarise_folded
from _support import (
    DEFAULT_PG_URL,
    BenchError,
    Latencies,
    check_postgres,
    cpu_delta,
    cpu_of,
    fail,
    group_pids,
    machine_busy_seconds,
    machine_notes,
    pg_backend_pids,
    recreate_pg_schema,
    table,
)
from _trace import trace_one_ticket
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.events import InProcessEventBus
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.db import Database
from walletdesk.migrate import upgrade_async


@dataclass
class PhaseResult:
    backend: str
    path: str
    concurrency: int
    count: int = 0
    seconds: float = float("nan")
    latencies: Latencies = field(default_factory=lambda: Latencies(()))
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_s: float = float("nan")
    server_cpu_s: float = float("nan")
    postgres_cpu_s: float = float("nan")
    machine_cpu_s: float = float("nan")
    server_processes: int = 1

    @property
    def per_second(self) -> float:
        ok = self.count - sum(self.errors.values())
        return ok / self.seconds if self.seconds else float("nan")

    def row(self) -> list[object]:
        per = 1000 / self.count if self.count else float("nan")
        return [
            self.backend,
            self.path,
            self.concurrency,
            self.count,
            self.per_second,
            self.latencies.p50,
            self.latencies.p99,
            self.latencies.max,
            sum(self.errors.values()),
            self.client_cpu_s * per,
            self.server_cpu_s * per,
            self.postgres_cpu_s * per,
            self.others_cores,
            self.cpu_bound_per_second,
        ]

    @property
    def ours_cpu_s(self) -> float:
        return sum(v for v in (self.client_cpu_s, self.server_cpu_s, self.postgres_cpu_s) if v == v)

    @property
    def others_cores(self) -> float:
        """Cores that other programs on the machine kept busy during the phase, on average."""
        return max(0.0, (self.machine_cpu_s - self.ours_cpu_s) / self.seconds)

    @property
    def cpu_bound_per_second(self) -> float:
        """What the measured CPU per operation allows on all cores with nobody else running.

        An upper bound: it ignores waiting (locks, fsync, the event loop of one process
        being full while the other core idles) and PostgreSQL's background processes.
        """
        if not self.count or not self.ours_cpu_s:
            return math.nan
        bound = (os.cpu_count() or 1) * self.count / self.ours_cpu_s
        # One process runs one event loop: it cannot use more than one core.
        if self.client_cpu_s > 0:
            bound = min(bound, self.count / self.client_cpu_s)
        if self.server_cpu_s > 0:
            bound = min(bound, self.server_processes * self.count / self.server_cpu_s)
        return bound


HEADERS = [
    "backend",
    "path",
    "C",
    "n",
    "per s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "cpu ms: here",
    "server",
    "postgres",
    "others' cores",
    "cpu-bound/s",
]


WIDTHS = [10, 16, 3, 6, 6, 6, 7, 7, 6]

# What a measured phase hands back: operations, wall seconds, latencies, errors by kind.
Phase = tuple[int, float, Latencies, Counter[str]]


class CpuMeter:
    """CPU seconds of this process, the server's process group and the database backends."""

    def __init__(self, pg_url: str | None, server_pgid: int | None) -> None:
        self.pg_url = pg_url
        self.server_pgid = server_pgid

    async def snapshot(self) -> tuple[float, dict[int, float], dict[int, float], float]:
        server = cpu_of(group_pids(self.server_pgid)) if self.server_pgid else {}
        postgres = cpu_of(await pg_backend_pids(self.pg_url)) if self.pg_url else {}
        return time.process_time(), server, postgres, machine_busy_seconds()

    async def measure(self, result: PhaseResult, phase: Callable[[], Awaitable[Phase]]) -> None:
        """Run the phase and fill in `result`: count, time, latencies, errors, CPU."""
        client0, server0, pg0, all0 = await self.snapshot()
        result.count, result.seconds, result.latencies, result.errors = await phase()
        client1, server1, pg1, all1 = await self.snapshot()
        result.client_cpu_s = client1 - client0
        if self.server_pgid:
            result.server_cpu_s = cpu_delta(server0, server1)
        if self.pg_url and pg1:
            result.postgres_cpu_s = cpu_delta(pg0, pg1)
        result.machine_cpu_s = all1 - all0


async def run_concurrently(
    jobs: Sequence[Callable[[], Awaitable[None]]], concurrency: int
) -> Phase:
    """Run the jobs on `concurrency` workers; count, wall seconds, latencies, errors by kind."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:  # one shared iterator: each job runs once
            started = time.perf_counter()
            try:
                await job()
            except Exception as exc:
                kind = _error_name(exc)
                if not errors[kind]:
                    print(f"   first {kind}: {str(exc)[:300]}", file=sys.stderr)
                errors[kind] += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return len(jobs), time.perf_counter() - started, Latencies(latencies), errors


def _error_name(exc: Exception) -> str:
    if isinstance(exc, HttpStatusError):
        return f"HTTP {exc.status}"
    return type(exc).__name__


class HttpStatusError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


# --- the in-process ingest path --------------------------------------------------------------


def new_ticket_messages(run: str, count: int, rng: random.Random) -> list[InboundMessage]:
    """Email-like first messages; about one customer in four writes more than once."""
    customers = max(1, count * 3 // 4)
    messages = []
    for i in range(count):
        email = f"customer{rng.randrange(customers)}.{run}@example.com"
        messages.append(
            InboundMessage(
                channel="email",
                external_id=f"<{run}.{i}@mail.example.com>",
                sender=SenderIdentity("email", email, f"客户 {i}"),
                thread_key=f"<{run}.{i}@mail.example.com>",
                subject=_corpus.subject(rng),
                text=_corpus.body(rng),
                locale=rng.choice(("zh-CN", "zh-CN", "zh-CN", "en")),
            )
        )
    return messages


def follow_up_messages(
    run: str, opened: Sequence[tuple[IngestResult, InboundMessage]], per_ticket: int
) -> list[InboundMessage]:
    """A customer's reply quoting the ticket number, without the thread (a new email)."""
    messages = []
    for round_ in range(per_ticket):
        for result, first in opened:
            messages.append(
                InboundMessage(
                    channel="email",
                    external_id=f"<{run}.f{round_}.{result.ticket_id}@mail.example.com>",
                    sender=first.sender,
                    subject=f"Re: 工单 {result.ticket_number}",
                    text=f"你好，关于工单 {result.ticket_number}，还没有处理吗？",
                )
            )
    return messages


CALIBRATION = Table(
    "bench_calibration",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("note", String(40), nullable=False),
)


async def calibration_phase(
    backend: str, url: str, concurrency: int, count: int, meter: CpuMeter
) -> PhaseResult:
    """One INSERT per transaction through SQLAlchemy Core: the machine's ceiling right now.

    PERFORMANCE.md measured this layer on a quiet machine (~1,340 tx/s on PostgreSQL,
    ~1,200/s on SQLite); dividing the ticket rates by it cancels out the other load.
    """
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(CALIBRATION.create, checkfirst=True)

        def job(i: int) -> Callable[[], Awaitable[None]]:
            async def insert_one() -> None:
                async with db.engine.begin() as conn:
                    await conn.execute(insert(CALIBRATION).values(note=f"calibration {i}"))

            return insert_one

        await run_concurrently([job(i) for i in range(min(count, 200))], concurrency)
        result = PhaseResult(backend, "core insert tx", concurrency)
        await meter.measure(
            result, lambda: run_concurrently([job(i) for i in range(count)], concurrency)
        )
        async with db.engine.begin() as conn:
            await conn.run_sync(CALIBRATION.drop)
    finally:
        await db.dispose()
    return result


async def ingest_phases(
    args: argparse.Namespace, backend: str, url: str, concurrency: int, run: str
) -> list[PhaseResult]:
    rng = random.Random(f"{run}-{concurrency}")
    meter = CpuMeter(url if backend == "postgresql" else None, None)
    results = [await calibration_phase(backend, url, concurrency, args.tickets, meter)]
    db = Database(url, bus=InProcessEventBus())
    try:
        warm = new_ticket_messages(f"{run}w", args.warmup, rng)
        await run_concurrently([_ingest_job(db, m, None) for m in warm], concurrency)

        inbound = new_ticket_messages(run, args.tickets, rng)
        opened: list[tuple[IngestResult, InboundMessage]] = []
        jobs = [_ingest_job(db, m, opened) for m in inbound]
        profiler = cProfile.Profile() if args.cprofile else None

        async def tickets() -> Phase:
            if profiler:
                profiler.enable()
            try:
                return await run_concurrently(jobs, concurrency)
            finally:
                if profiler:
                    profiler.disable()

        results.append(PhaseResult(backend, "ingest new", concurrency))
        await meter.measure(results[-1], tickets)
        if profiler:
            print(_cprofile_report(profiler, f"{backend} ingest, C={concurrency}"))

        if args.followups:
            follow = follow_up_messages(run, opened, args.followups)
            follow_jobs = [_ingest_job(db, m, None, expect_new=False) for m in follow]
            results.append(PhaseResult(backend, "ingest follow-up", concurrency))
            await meter.measure(results[-1], lambda: run_concurrently(follow_jobs, concurrency))
    finally:
        await db.dispose()
    return results


def _ingest_job(
    db: Database,
    inbound: InboundMessage,
    opened: list[tuple[IngestResult, InboundMessage]] | None,
    *,
    expect_new: bool = True,
) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        result = await ingest(db, inbound)
        if result.created_ticket != expect_new:
            raise RuntimeError(f"created_ticket is {result.created_ticket}, not {expect_new}")
        if opened is not None:
            opened.append((result, inbound))

    return job


def _cprofile_report(profiler: cProfile.Profile, title: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"\ncProfile of {title} (figures above are slowed by the profiler)\n")
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


# --- the HTTP API path ------------------------------------------------------------------------


def ticket_payloads(count: int, rng: random.Random, run: str) -> list[dict[str, Any]]:
    customers = max(1, count * 3 // 4)
    payloads = []
    for _ in range(count):
        customer: dict[str, str] = {"email": f"api{rng.randrange(customers)}.{run}@example.com"}
        if rng.random() < 0.3:
            customer["phone"] = _corpus.phone(rng)
        payloads.append(
            {
                "subject": _corpus.subject(rng),
                "body": _corpus.body(rng),
                "customer": customer,
                "category": rng.choice(("transfer_refund", "payment_failed", "other")),
            }
        )
    return payloads


async def http_phase(
    args: argparse.Namespace,
    backend: str,
    base_url: str,
    token: str,
    concurrency: int,
    meter: CpuMeter,
    run: str,
    server_pid: int | None,
) -> PhaseResult:
    rng = random.Random(f"http-{run}-{concurrency}")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:

        def job(payload: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def post() -> None:
                response = await client.post(
                    "/api/v1/tickets",
                    json=payload,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                if response.status_code != 201:
                    raise HttpStatusError(response.status_code, response.text)

            return post

        warm = [job(p) for p in ticket_payloads(args.warmup, rng, f"{run}w")]
        await run_concurrently(warm, concurrency)
        jobs = [job(p) for p in ticket_payloads(args.tickets, rng, run)]

        label = f"http {args.workers}w" if server_pid else "http"
        result = PhaseResult(backend, label, concurrency, server_processes=args.workers)
        if args.py_spy and server_pid is not None:
            out = Path(args.profile_dir) / f"server-{backend}-c{concurrency}.folded"
            async with PySpy(args.py_spy, server_pid, out):
                await meter.measure(result, lambda: run_concurrently(jobs, concurrency))
            print(f"\npy-spy of the server ({backend}, C={concurrency}), stacks in {out}")
            print(summarise_folded(out))
        else:
            await meter.measure(result, lambda: run_concurrently(jobs, concurrency))
    return result


async def api_token(url: str) -> str:
    """An L1 agent and its token, made through the services before the server starts."""
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.agents.service import create_agent, create_api_token

    db = Database(url)
    try:
        async with db.transaction() as session:
            agent = await create_agent(
                session,
                SYSTEM,
                email=f"bench-{uuid.uuid4().hex[:8]}@walletdesk.test",
                name="Bench integration",
                role="agent",
                tier=1,
            )
            _, secret = await create_api_token(session, SYSTEM, agent, "bench")
    finally:
        await db.dispose()
    return secret


# --- orchestration ----------------------------------------------------------------------------


async def prepare(backend: str, args: argparse.Namespace, workdir: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        await upgrade_async(url)
        return url
    await recreate_pg_schema(args.pg_url)
    return str(args.pg_url)


async def run(args: argparse.Namespace) -> list[PhaseResult]:
    results: list[PhaseResult] = []
    print(f"machine: {machine_notes()}")
    print(
        f"tickets per phase {args.tickets:,}, warm-up {args.warmup:,}, "
        f"follow-ups per ticket {args.followups}, concurrency {args.concurrency}\n"
    )

    def show(result: PhaseResult) -> None:
        results.append(result)
        print(table(HEADERS, [result.row()], WIDTHS).splitlines()[-1], flush=True)
        if result.errors:
            print(f"   errors: {dict(result.errors)}")

    if "postgresql" in args.backends and not args.url:
        await check_postgres(args.pg_url)  # fail before any work, with a clear line
    print(table(HEADERS, [], WIDTHS))
    run_id = uuid.uuid4().hex[:6]
    if args.url:
        meter = CpuMeter(None, None)
        for c in args.concurrency:
            show(await http_phase(args, "external", args.url, args.token, c, meter, run_id, None))
        return results

    with tempfile.TemporaryDirectory(prefix="walletdesk-bench-") as tmp:
        for backend in args.backends:
            workdir = Path(tmp) / backend
            workdir.mkdir()
            url = await prepare(backend, args, workdir)
            pg_url = url if backend == "postgresql" else None
            if args.trace:
                print(f"\nSQL of one ticket on {backend}:")
                print(await trace_one_ticket(url, workdir))
                print()
            if "ingest" in args.paths:
                for c in args.concurrency:
                    for result in await ingest_phases(args, backend, url, c, f"{run_id}c{c}"):
                        show(result)
            if "http" in args.paths:
                token = await api_token(url)
                # Several workers share live events through Redis (serve insists); SQLite
                # has one writer anyway, so it runs the embedded single-process setup.
                postgres = backend == "postgresql"
                async with Server(
                    database_url=url,
                    data_dir=workdir / "server",
                    workers=args.workers if postgres else 1,
                    port=args.port,
                    redis_url=args.redis_url if postgres else "",
                ) as server:
                    assert server.process is not None
                    meter = CpuMeter(pg_url, server.process.pid)
                    for c in args.concurrency:
                        show(
                            await http_phase(
                                args,
                                backend,
                                server.url,
                                token,
                                c,
                                meter,
                                f"{run_id}h{c}",
                                server.process.pid,
                            )
                        )
                    logged = server.status_counts()
                    if logged:
                        print(f"   server log {server.log_path}: {dict(logged)}; the first:")
                        print(server.first_error())
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--tickets", type=int, default=2000, help="tickets per phase")
    parser.add_argument(
        "-c",
        "--concurrency",
        type=_int_list,
        default=[16],
        help="concurrent tasks/clients; a comma list runs one phase per value (default 16)",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="uncounted operations before each phase"
    )
    parser.add_argument(
        "--followups",
        type=int,
        default=1,
        help="in-process follow-up messages per ticket, quoting its number (0: none)",
    )
    parser.add_argument(
        "--backends",
        type=_choices({"sqlite", "postgresql"}),
        default=["sqlite", "postgresql"],
        help="comma list of sqlite, postgresql (default both)",
    )
    parser.add_argument(
        "--paths",
        type=_choices({"ingest", "http"}),
        default=["ingest", "http"],
        help="comma list of ingest (in-process), http (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"PostgreSQL whose public schema is DROPPED and re-created (default {DEFAULT_PG_URL})",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/4",
        help="the PostgreSQL server's Redis event bus, which several workers need "
        "(default redis://127.0.0.1:6379/4)",
    )
    parser.add_argument("--url", help="benchmark this running server instead (needs --token)")
    parser.add_argument("--token", help="API token for --url")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="first print the SQL statements, transactions and pool checkouts of one ticket",
    )
    parser.add_argument(
        "--cprofile", action="store_true", help="cProfile the in-process ingest phase"
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const=shutil.which("py-spy") or "",
        default=None,
        metavar="BINARY",
        help="sample the server with py-spy during HTTP phases (default binary: py-spy on PATH)",
    )
    parser.add_argument(
        "--profile-dir", default=tempfile.gettempdir(), help="where py-spy writes its stacks"
    )
    args = parser.parse_args(argv)
    if args.url and not args.token:
        parser.error("--url needs --token")
    if args.py_spy == "":
        parser.error("--py-spy: no py-spy on PATH; pass its path (--py-spy /path/to/py-spy)")
    if args.tickets < 1 or args.warmup < 0 or args.followups < 0 or args.workers < 1:
        parser.error("--tickets and --workers must be ≥ 1, --warmup and --followups ≥ 0")
    return args


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrency must be ≥ 1")
    return values


def _choices(allowed: set[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [v for v in values if v not in allowed]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(sorted(allowed))}")
        return values

    return parse


async def cancellable(work: Awaitable[list[PhaseResult]]) -> list[PhaseResult]:
    """Run `work`; a plain `kill` (SIGTERM) cancels it so servers are stopped as on Ctrl-C."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    atexit.register(kill_leftover_servers)
    try:
        results = asyncio.run(cancellable(run(args)))
    except BenchError as exc:
        fail(str(exc))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; servers stopped", file=sys.stderr)
        raise SystemExit(130) from None
    if results:
        print("\nsummary")
        print(table(HEADERS, [r.row() for r in results]))


if __name__ == "__main__":
    main()
