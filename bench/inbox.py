"""Inbox queries at a million tickets, through the real tickets.queries.list_tickets.

Builds (once; --regenerate to force) a ticket history in a dedicated database whose
schema comes from the real migrations, so the real indexes serve the queries. How the
data is made is described in bench/_generate.py. Then, per backend, each inbox query
runs a few times to warm up and --repeat times measured, each in its own transaction
as a request would, and the p50/p99/max milliseconds are printed. On PostgreSQL the
EXPLAIN (ANALYZE, BUFFERS) of the slowest query and of every query over the limit
follows; on SQLite their EXPLAIN QUERY PLAN.

    uv run python bench/inbox.py                                 # PostgreSQL and SQLite
    uv run python bench/inbox.py --backends postgresql --repeat 100
    uv run python bench/inbox.py --tickets 100000 --backends sqlite  # a smaller set
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import _corpus
import _generate
from _support import (
    BenchError,
    Latencies,
    asyncpg_dsn,
    check_postgres,
    fail,
    machine_notes,
    recreate_pg_schema,
    table,
)
from sqlalchemy import event, func, select

from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for
from walletdesk.core.tickets.models import ACTIVE_STATUSES, Ticket
from walletdesk.core.tickets.queries import InboxFilter, list_tickets
from walletdesk.db import Database
from walletdesk.migrate import upgrade_async

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1/walletdesk_bench_1m"
LIMIT_MS = 50.0
# Searches besides _corpus's three words: Chinese words are often two characters, and an
# index of trigrams needs another way for texts shorter than three.
MORE_WORDS = {
    "two_some": "红包",  # 红包退回时间: about 2 % of subjects
    "two_none": "冲正",  # in no subject
    "one_none": "镑",  # in no subject
    "long_common": "转账未到账",  # 14 %
    "some": "order 1",  # the order numbers of one template that begin with 1: about 1 %
}


@dataclass(frozen=True, slots=True)
class InboxQuery:
    label: str
    actor: Actor
    filters: InboxFilter
    cursor: str | None = None


@dataclass
class Measured:
    query: InboxQuery
    latencies: Latencies
    rows: int
    statement: str = ""
    parameters: Any = None


# --- data -------------------------------------------------------------------------------------


async def ensure_data(backend: str, url: str, args: argparse.Namespace) -> None:
    """Generate the tickets unless exactly --tickets of them are already there."""
    if backend == "postgresql":
        await check_postgres(url)
    have = None if args.regenerate else await _ticket_count(url)
    if have == args.tickets:
        print(f"  {backend}: {have:,} tickets already there (--regenerate to rebuild)")
        await upgrade_async(url)  # migrations added since the data was made
        return
    if have is not None:
        print(f"  {backend}: found {have:,} tickets, want {args.tickets:,}: rebuilding")
    started = time.perf_counter()
    if backend == "postgresql":
        await recreate_pg_schema(url)
    else:
        _fresh_sqlite_file(Path(url.split("///", 1)[1]))
        await upgrade_async(url)
    db = Database(url)
    try:
        staff = await _generate.make_staff(db)
    finally:
        await db.dispose()
    print(f"  {backend}: generating {args.tickets:,} tickets, {args.contacts:,} contacts")
    if backend == "postgresql":
        await _generate.load_postgres(asyncpg_dsn(url), args.tickets, args.contacts, staff)
    else:
        await asyncio.to_thread(
            _generate.load_sqlite, url.split("///", 1)[1], args.tickets, args.contacts, staff
        )
    print(f"  {backend}: generated in {time.perf_counter() - started:.0f} s")


def _fresh_sqlite_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


def _exists(path: Path) -> bool:
    return path.exists()


async def _ticket_count(url: str) -> int | None:
    """Tickets in the database, or None when the schema is not there yet."""
    if url.startswith("sqlite") and not _exists(Path(url.split("///", 1)[1])):
        return None
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Ticket))).scalar_one())
    except Exception:  # no tickets table: a fresh database
        return None
    finally:
        await db.dispose()


# --- queries ----------------------------------------------------------------------------------


async def build_queries(db: Database) -> list[InboxQuery]:
    async with db.transaction() as session:
        agents = (await session.scalars(select(Agent).order_by(Agent.id))).all()
        supervisor = next(a for a in agents if a.email == _generate.SUPERVISOR_EMAIL)
        l1 = next(a for a in agents if a.role == "agent" and a.tier == 1)
        sample_number = await session.scalar(
            select(Ticket.number).order_by(Ticket.id).offset(await _half(session)).limit(1)
        )
    agent, boss = actor_for(l1), actor_for(supervisor)
    active = InboxFilter(status="active")
    queries = [
        InboxQuery("L1 agent: default inbox (active)", agent, active),
        InboxQuery("supervisor: all tickets", boss, InboxFilter()),
        InboxQuery("L1 agent: status=new", agent, InboxFilter(status="new")),
        InboxQuery(
            "L1 agent: assignee=me, active", agent, InboxFilter(status="active", assignee_id=l1.id)
        ),
        InboxQuery(
            "L1 agent: unassigned, active", agent, InboxFilter(status="active", unassigned=True)
        ),
        InboxQuery("supervisor: unassigned, any status", boss, InboxFilter(unassigned=True)),
        InboxQuery(
            "L1 agent: channel=phone, active", agent, InboxFilter(status="active", channel="phone")
        ),
        InboxQuery("supervisor: channel=telegram", boss, InboxFilter(channel="telegram")),
        InboxQuery(f"supervisor: q=<number {sample_number}>", boss, InboxFilter(q=sample_number)),
        InboxQuery(
            f"supervisor: q={_corpus.COMMON_SUBJECT_WORD} (common word)",
            boss,
            InboxFilter(q=_corpus.COMMON_SUBJECT_WORD),
        ),
        InboxQuery(
            f"supervisor: q={_corpus.RARE_SUBJECT_WORD} (rare word)",
            boss,
            InboxFilter(q=_corpus.RARE_SUBJECT_WORD),
        ),
        InboxQuery(
            f"supervisor: q={_corpus.ABSENT_SUBJECT_WORD} (in no subject)",
            boss,
            InboxFilter(q=_corpus.ABSENT_SUBJECT_WORD),
        ),
        InboxQuery(
            f"L1 agent: q={_corpus.RARE_SUBJECT_WORD}, active (rare word)",
            agent,
            InboxFilter(status="active", q=_corpus.RARE_SUBJECT_WORD),
        ),
        InboxQuery(
            "supervisor: assignee=<L1 agent>, any status",
            boss,
            InboxFilter(assignee_id=l1.id),
        ),
        InboxQuery(
            "L1 agent: assignee=me, status=new", agent, InboxFilter(status="new", assignee_id=l1.id)
        ),
    ]
    # Shorter and longer texts than the three words above, each a different way through the
    # SQLite search (bench/README.md): how common each is, is printed before the table.
    queries += [
        InboxQuery(f"{who}: q={text} ({what})", actor, InboxFilter(q=text, status=status))
        for who, actor, status, text, what in [
            ("L1 agent", agent, "active", _corpus.COMMON_SUBJECT_WORD, "common, active"),
            ("supervisor", boss, None, MORE_WORDS["two_some"], "2 chars, 2 %"),
            ("supervisor", boss, None, MORE_WORDS["two_none"], "2 chars, in none"),
            ("supervisor", boss, None, MORE_WORDS["one_none"], "1 char, in none"),
            ("supervisor", boss, None, MORE_WORDS["long_common"], "5 chars, common"),
            ("supervisor", boss, None, MORE_WORDS["some"], "3+ chars, 1 %"),
        ]
    ]
    # Pages 2 and 20 of the default inbox, reached by following the cursors.
    cursor = None
    async with db.transaction() as session:
        for page in range(2, 21):
            cursor = (await list_tickets(session, agent, active, cursor=cursor)).next_cursor
            if cursor is None:
                break
            if page in (2, 20):
                queries.append(
                    InboxQuery(f"L1 agent: default inbox, page {page}", agent, active, cursor)
                )
    return queries


async def _half(session: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0) // 2


async def measure(db: Database, query: InboxQuery, warmup: int, repeat: int) -> Measured:
    captured: dict[str, Any] = {}

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM tickets" in statement:
            captured["statement"], captured["parameters"] = statement, parameters

    rows = 0
    timings = []
    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        for i in range(warmup + repeat):
            started = time.perf_counter()
            async with db.transaction() as session:
                page = await list_tickets(session, query.actor, query.filters, cursor=query.cursor)
            if i >= warmup:
                timings.append((time.perf_counter() - started) * 1000)
            rows = len(page.tickets)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    return Measured(
        query, Latencies(timings), rows, captured.get("statement", ""), captured.get("parameters")
    )


async def explain(db: Database, measured: Measured, lines: int) -> str:
    """The query's plan: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite.

    On PostgreSQL both plans are shown: the custom plan, made for these very values, and
    the generic plan. asyncpg prepares every statement, and after five executions the
    server may keep a generic plan that ignores the values: the one the app then runs.
    """
    if not measured.statement:
        return "(statement not captured)"
    if db.dialect != "postgresql":
        async with db.engine.connect() as conn:
            result = await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + measured.statement, measured.parameters
            )
            return _indent([str(row[-1]) for row in result.all()], lines)
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(db.url))
    try:
        params = list(measured.parameters or ())
        custom = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + measured.statement, *params, timeout=120
        )
        # The generic plan: PREPARE, then EXECUTE under force_generic_plan.
        await conn.execute(f"PREPARE wd_bench_inbox AS {measured.statement}")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        # EXECUTE takes no bind parameters, so the values go in as literals.
        args = ", ".join(_literal(value) for value in params)
        generic = await conn.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE wd_bench_inbox({args})", timeout=120
        )
    finally:
        await conn.close()
    return (
        "  custom plan (for these values):\n"
        + _indent([r[0] for r in custom], lines)
        + "\n  generic plan (what a cached prepared statement may run):\n"
        + _indent([r[0] for r in generic], lines)
    )


def _literal(value: object) -> str:
    """A SQL literal for one of our own bind values (str, int, datetime, None)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def _indent(plan: list[str], lines: int) -> str:
    shown = plan[:lines] + ([f"… ({len(plan) - lines} more lines)"] if len(plan) > lines else [])
    return "\n".join("    " + line for line in shown)


async def match_counts(db: Database) -> str:
    """How many tickets each subject word matches, and how many are active: context for q=."""
    async with db.engine.connect() as conn:
        parts = []
        for word in (
            _corpus.COMMON_SUBJECT_WORD,
            _corpus.RARE_SUBJECT_WORD,
            MORE_WORDS["two_some"],
            MORE_WORDS["some"],
        ):
            n = (
                await conn.execute(
                    select(func.count())
                    .select_from(Ticket)
                    .where(Ticket.subject.ilike(f"%{word}%"))
                )
            ).scalar_one()
            parts.append(f"{word!r} in {n:,} subjects")
        active = (
            await conn.execute(
                select(func.count()).select_from(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES))
            )
        ).scalar_one()
        parts.append(f"{active:,} active tickets")
    return ", ".join(parts)


async def bench_backend(backend: str, url: str, args: argparse.Namespace) -> list[Measured]:
    await ensure_data(backend, url, args)
    engine_options: dict[str, Any] = {}
    if backend == "postgresql" and args.plan_cache_mode:
        engine_options["connect_args"] = {
            "server_settings": {"plan_cache_mode": args.plan_cache_mode}
        }
    db = Database(url, **engine_options)
    results = []
    try:
        print(f"\n{backend}: {await match_counts(db)}")
        queries = [
            q
            for q in await build_queries(db)
            if not args.queries or any(part in q.label for part in args.queries)
        ]
        print(table(HEADERS, [], WIDTHS))
        for query in queries:
            measured = await measure(db, query, args.warmup, args.repeat)
            results.append(measured)
            print(table(HEADERS, [row(backend, measured)], WIDTHS).splitlines()[-1], flush=True)
        slowest = max(results, key=lambda m: m.latencies.p50)
        if args.explain == "all":
            explained = results
        else:
            explained = [slowest] + [
                m for m in results if m.latencies.p99 > LIMIT_MS and m is not slowest
            ]
        for measured in explained:
            why = "slowest (p50)" if measured is slowest else f"p99 {measured.latencies.p99:.0f} ms"
            print(f"\n{backend} plan of {measured.query.label!r} ({why}):")
            print(await explain(db, measured, args.plan_lines))
    finally:
        await db.dispose()
    return results


HEADERS = ["backend", "query", "rows", "p50 ms", "p99 ms", "max ms", f"≤ {LIMIT_MS:.0f} ms"]
WIDTHS = [10, 42, 4, 7, 7, 7]


def row(backend: str, measured: Measured) -> list[object]:
    lat = measured.latencies
    return [
        backend,
        measured.query.label,
        measured.rows,
        lat.p50,
        lat.p99,
        lat.max,
        "yes" if lat.p99 <= LIMIT_MS else "NO",
    ]


async def run(args: argparse.Namespace) -> list[tuple[str, Measured]]:
    print(f"machine: {machine_notes()}")
    print(f"{args.tickets:,} tickets; warm-up {args.warmup}, measured {args.repeat} times each")
    results = []
    for backend in args.backends:
        url = args.pg_url if backend == "postgresql" else f"sqlite+aiosqlite:///{args.sqlite_path}"
        for measured in await bench_backend(backend, url, args):
            results.append((backend, measured))
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--tickets", type=int, default=1_000_000, help="tickets to generate")
    parser.add_argument("--contacts", type=int, default=300_000, help="contacts to generate")
    parser.add_argument(
        "--backends",
        type=_backends,
        default=["postgresql", "sqlite"],
        help="comma list of postgresql, sqlite (default both; SQLite's first load takes minutes)",
    )
    parser.add_argument("--repeat", type=int, default=50, help="measured runs per query (≥ 1)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured runs per query first")
    parser.add_argument(
        "--regenerate", action="store_true", help="rebuild the data even if it is there"
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"PostgreSQL for the data; its public schema is DROPPED when (re)generating "
        f"(default {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--sqlite-path",
        type=Path,
        help="SQLite file for the data (default: walletdesk-bench/inbox-<N>.db in the temp dir)",
    )
    parser.add_argument(
        "--queries",
        type=lambda text: [part for part in text.split(",") if part],
        help="only the queries whose label contains one of these comma-separated words",
    )
    parser.add_argument(
        "--explain",
        choices=("slow", "all"),
        default="slow",
        help="plans of the slowest query and those over the limit (slow), or of all",
    )
    parser.add_argument(
        "--plan-cache-mode",
        choices=("auto", "force_custom_plan", "force_generic_plan"),
        help="PostgreSQL plan_cache_mode for the measured connections (default: the server's)",
    )
    parser.add_argument("--plan-lines", type=int, default=14, help="plan lines to print")
    args = parser.parse_args(argv)
    if args.tickets < 1000 or args.contacts < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--tickets ≥ 1000, --contacts ≥ 1, --repeat ≥ 1, --warmup ≥ 0")
    if args.sqlite_path is None:
        args.sqlite_path = (
            Path(tempfile.gettempdir()) / "walletdesk-bench" / f"inbox-{args.tickets}.db"
        )
    return args


def _backends(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values or any(v not in ("postgresql", "sqlite") for v in values):
        raise argparse.ArgumentTypeError("choose from postgresql, sqlite")
    return values


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        results = asyncio.run(run(args))
    except BenchError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(130) from None
    print("\nsummary")
    print(table(HEADERS, [row(b, m) for b, m in results]))


if __name__ == "__main__":
    main()
