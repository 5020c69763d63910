"""A large, plausible ticket history for the inbox benchmark, loaded fast.

The schema comes from the real migrations; agents and teams are made through the
services; contacts, identities and tickets are bulk-loaded (COPY on PostgreSQL, one
executemany per batch on SQLite) because a million service calls would take hours. On
SQLite the triggers of migration 0008 put each subject into the FTS5 search index as its
row goes in, as they do for tickets the app writes, so there is nothing to rebuild after.

Distributions (fixed seed, so every run builds the same data):
  status    new 2 %, open 4 %, pending 2.5 %, on hold 1.5 % (10 % active), solved 8 %,
            closed 82 %;
  age       closed: created uniformly over the last two years, last updated when closed
            a few days later (exponential, mean 5 days); solved: created within weeks
            (mean 10 days), solved about 2 days later; active: created within weeks
            (mean 20 days new/open, 45 days pending/on hold), last touched within days
            (mean 1.5 days);
  tier      L1 70 %, L2 20 %, L3 10 % (each ticket in its tier's team);
  channel   webchat 35 %, email 30 %, phone 15 %, api 10 %, wechat 7 %, telegram 3 %;
  assignee  50 agents (35 L1, 10 L2, 5 L3); new tickets 80 % unassigned, other active
            5 %, finished 3 %; otherwise an agent of the ticket's tier;
  contacts  300,000 (one email identity each), skewed: low ids write far more often;
  numbers   walletdesk.core.tickets.numbers.number_for_sequence(id - 1): unique, valid,
            and the number counter is moved past them so new tickets do not collide.
Ids follow creation time, as they would in a live system.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import _corpus

from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import create_agent, team_for_tier
from walletdesk.core.tickets.numbering import BLOCK
from walletdesk.core.tickets.numbers import number_for_sequence
from walletdesk.db import Database

SEED = 20261126
BATCH = 50_000
AGENTS_PER_TIER = {1: 35, 2: 10, 3: 5}
SUPERVISOR_EMAIL = "bench-supervisor@walletdesk.test"

STATUSES = [
    ("new", 2.0),
    ("open", 4.0),
    ("pending", 2.5),
    ("on_hold", 1.5),
    ("solved", 8.0),
    ("closed", 82.0),
]
CHANNELS = [
    ("webchat", 35),
    ("email", 30),
    ("phone", 15),
    ("api", 10),
    ("wechat", 7),
    ("telegram", 3),
]
PRIORITIES = [("normal", 70), ("high", 15), ("low", 10), ("urgent", 5)]
CATEGORIES = [
    ("transfer_refund", 22),
    ("payment_failed", 18),
    ("account_access", 12),
    ("card_binding", 10),
    ("identity_verification", 9),
    ("account_frozen", 8),
    ("fees", 6),
    ("fraud_security", 5),
    ("complaint", 4),
    ("other", 6),
]
TICKET_COLUMNS = (
    "id",
    "number",
    "subject",
    "status",
    "priority",
    "category",
    "tier",
    "team_id",
    "assignee_id",
    "contact_id",
    "channel",
    "thread_key",
    "open_thread_key",
    "locale",
    "follow_up_of_id",
    "created_at",
    "updated_at",
    "first_response_at",
    "solved_at",
    "closed_at",
)
UNASSIGNED_SHARE = {
    "new": 0.8,
    "open": 0.05,
    "pending": 0.05,
    "on_hold": 0.05,
    "solved": 0.03,
    "closed": 0.03,
}
THREADED = {"webchat", "email", "wechat", "telegram"}


@dataclass(frozen=True, slots=True)
class Staff:
    """Who the generated tickets belong to, and whom the benchmark acts as."""

    agents_by_tier: dict[int, list[int]]
    team_by_tier: dict[int, int]
    supervisor_id: int


async def make_staff(db: Database) -> Staff:
    """The agents and teams, through the real services (idempotent: reuses what exists)."""
    from sqlalchemy import select

    async with db.transaction() as session:
        existing = {a.email: a for a in (await session.scalars(select(Agent))).all()}
        for tier, count in AGENTS_PER_TIER.items():
            for i in range(count):
                email = f"bench-l{tier}-{i:02d}@walletdesk.test"
                if email not in existing:
                    existing[email] = await create_agent(
                        session,
                        SYSTEM,
                        email=email,
                        name=f"L{tier} agent {i:02d}",
                        role="agent",
                        tier=tier,
                    )
        if SUPERVISOR_EMAIL not in existing:
            existing[SUPERVISOR_EMAIL] = await create_agent(
                session,
                SYSTEM,
                email=SUPERVISOR_EMAIL,
                name="Bench supervisor",
                role="supervisor",
                tier=1,
            )
        agents_by_tier: dict[int, list[int]] = {tier: [] for tier in AGENTS_PER_TIER}
        for email, agent in sorted(existing.items()):
            if email.startswith("bench-l") and agent.role == "agent":
                agents_by_tier[agent.tier].append(agent.id)
        teams = {}
        for tier in AGENTS_PER_TIER:
            team = await team_for_tier(session, tier)
            assert team is not None
            teams[tier] = team.id
    return Staff(agents_by_tier, teams, existing[SUPERVISOR_EMAIL].id)


def _picker(weighted: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values = [v for v, _ in weighted]
    total = sum(w for _, w in weighted)
    cumulative, running = [], 0.0
    for _, w in weighted:
        running += w / total
        cumulative.append(running)
    return values, cumulative


Row = tuple[object, ...]


def ticket_rows(count: int, contacts: int, staff: Staff, now: datetime) -> Iterator[Row]:
    """The tickets as tuples in TICKET_COLUMNS order, ids 1..count in creation order."""
    rng = random.Random(SEED)
    statuses = _picker(STATUSES)
    channels = _picker([(c, float(w)) for c, w in CHANNELS])
    priorities = _picker([(p, float(w)) for p, w in PRIORITIES])
    categories = _picker([(c, float(w)) for c, w in CATEGORIES])
    choices = rng.choices
    day = 86_400.0
    two_years = 730 * day
    # Draw every ticket's status and timestamps first, then number them by creation time.
    drafts = []
    for _ in range(count):
        status = choices(statuses[0], cum_weights=statuses[1])[0]
        if status == "closed":
            age = rng.random() * two_years
            idle = max(0.0, age - rng.expovariate(1 / (5 * day)))
        elif status == "solved":
            age = min(two_years, rng.expovariate(1 / (10 * day)))
            idle = max(0.0, age - rng.expovariate(1 / (2 * day)))
        else:
            mean = 20 * day if status in ("new", "open") else 45 * day
            age = min(two_years, rng.expovariate(1 / mean))
            idle = min(age, rng.expovariate(1 / (1.5 * day)))
        drafts.append((age, idle, status))
    drafts.sort(key=lambda d: -d[0])
    for index, (age, idle, status) in enumerate(drafts):
        ticket_id = index + 1
        created = now - timedelta(seconds=age)
        updated = now - timedelta(seconds=idle)
        tier = 1 if (r := rng.random()) < 0.7 else (2 if r < 0.9 else 3)
        channel = choices(channels[0], cum_weights=channels[1])[0]
        unassigned_share = (
            0.8 if status == "new" else (0.05 if status in ("open", "pending", "on_hold") else 0.03)
        )
        assignee = (
            None if rng.random() < unassigned_share else rng.choice(staff.agents_by_tier[tier])
        )
        thread = f"{channel}-{ticket_id}" if channel in THREADED else None
        first_response = None
        if status != "new":
            first_response = min(updated, created + timedelta(seconds=rng.expovariate(1 / 3600)))
        yield (
            ticket_id,
            number_for_sequence(ticket_id - 1),
            _corpus.subject(rng),
            status,
            choices(priorities[0], cum_weights=priorities[1])[0],
            choices(categories[0], cum_weights=categories[1])[0],
            tier,
            staff.team_by_tier[tier],
            assignee,
            1 + int(contacts * rng.random() ** 2.5),
            channel,
            thread,
            thread if status != "closed" else None,
            "zh-CN" if rng.random() < 0.8 else "en",
            None,
            created,
            updated,
            first_response,
            updated if status in ("solved", "closed") else None,
            updated if status == "closed" else None,
        )


def contact_rows(count: int, now: datetime) -> Iterator[tuple[int, str, str, datetime, datetime]]:
    rng = random.Random(SEED + 1)
    for contact_id in range(1, count + 1):
        created = now - timedelta(seconds=rng.random() * 900 * 86_400)
        yield contact_id, f"客户{contact_id}", "zh-CN", created, created


def batches(rows: Iterator[Row], size: int = BATCH) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def counter_after(count: int) -> int:
    """The ticket_number_seq value whose next block starts after `count` used numbers."""
    return math.ceil(count / BLOCK) * BLOCK + 1


def progress(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"\r  {label}: {done:,}/{total:,} ({elapsed:.0f} s)", end="", flush=True)


# --- PostgreSQL -------------------------------------------------------------------------------


async def load_postgres(dsn: str, count: int, contacts: int, staff: Staff) -> None:
    import asyncpg

    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        # Rows are valid by construction; skipping the per-row foreign-key triggers makes the
        # load several times faster (superuser only, this session only).
        await conn.execute("SET session_replication_role = replica")
        started = time.perf_counter()
        done = 0
        for batch in batches(contact_rows(contacts, now)):
            await conn.copy_records_to_table(
                "contacts",
                records=batch,
                columns=["id", "name", "locale", "created_at", "updated_at"],
            )
            identities = [
                (cid, cid, "email", f"customer{cid}@example.com", True, created)
                for cid, _, _, created, _ in batch
            ]
            await conn.copy_records_to_table(
                "contact_identities",
                records=identities,
                columns=["id", "contact_id", "kind", "value", "verified", "created_at"],
            )
            done += len(batch)
            progress("contacts", done, contacts, started)
        print()
        started, done = time.perf_counter(), 0
        for batch in batches(ticket_rows(count, contacts, staff, now)):
            await conn.copy_records_to_table("tickets", records=batch, columns=list(TICKET_COLUMNS))
            done += len(batch)
            progress("tickets", done, count, started)
        print()
        await conn.execute("SET session_replication_role = DEFAULT")
        for table in ("contacts", "contact_identities", "tickets"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute(f"SELECT setval('ticket_number_seq', {counter_after(count)}, false)")
        await conn.execute("UPDATE ticket_number_blocks SET next_value = $1", count)
        started = time.perf_counter()
        print("  VACUUM ANALYZE …", end="", flush=True)
        await conn.execute("VACUUM ANALYZE contacts, contact_identities, tickets")
        print(f" {time.perf_counter() - started:.0f} s")
    finally:
        await conn.close()


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_stamp(value: object) -> object:
    """How SQLAlchemy's SQLite DateTime stores a (naive UTC) datetime, so comparisons agree."""
    if not isinstance(value, datetime):
        return value
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: str, count: int, contacts: int, staff: Staff) -> None:
    now = datetime.now(UTC)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # Generated data can be regenerated: no fsync while loading.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-500000")
        started, done = time.perf_counter(), 0
        for batch in batches(contact_rows(contacts, now)):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO contacts (id, name, locale, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(i, n, loc, sqlite_stamp(c), sqlite_stamp(u)) for i, n, loc, c, u in batch],
            )
            conn.executemany(
                "INSERT INTO contact_identities (id, contact_id, kind, value, verified, "
                "created_at) VALUES (?, ?, 'email', ?, 1, ?)",
                [(i, i, f"customer{i}@example.com", sqlite_stamp(c)) for i, _, _, c, _ in batch],
            )
            conn.execute("COMMIT")
            done += len(batch)
            progress("contacts", done, contacts, started)
        print()
        placeholders = ", ".join("?" * len(TICKET_COLUMNS))
        insert = f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) VALUES ({placeholders})"
        started, done = time.perf_counter(), 0
        for batch in batches(ticket_rows(count, contacts, staff, now), 100_000):
            conn.execute("BEGIN")
            conn.executemany(
                insert, [row[:15] + tuple(sqlite_stamp(v) for v in row[15:]) for row in batch]
            )
            conn.execute("COMMIT")
            done += len(batch)
            progress("tickets", done, count, started)
        print()
        conn.execute("UPDATE ticket_number_blocks SET next_value = ?", (count,))
        started = time.perf_counter()
        print("  ANALYZE …", end="", flush=True)
        conn.execute("ANALYZE")
        print(f" {time.perf_counter() - started:.0f} s")
    finally:
        conn.close()
