"""How long the deflection report takes over a busy help desk's events.

    uv run python bench/deflection_report.py                      # SQLite and PostgreSQL
    uv run python bench/deflection_report.py --questions 50000 --backends sqlite
    uv run python bench/deflection_report.py --pg-url postgresql+asyncpg://postgres@127.0.0.1/mine

Makes a fresh database per backend (a SQLite file in a temporary directory; PostgreSQL
`--pg-url`, whose `public` schema is **dropped** and migrated again), 200 articles and
`--questions` questions spread evenly over the last 90 days, each reported the way the chat
widget and the email channel report them: `shown`; 35 % also `opened` (an article), 25 %
`resolved`, 30 % `not_resolved` (≈ 1.9 events a question). Then it times
`helpcenter.queries.deflection_report` — the query the console page and the API run — over
the last 7, 30 and 90 days, 5 runs each after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from _support import DEFAULT_PG_URL, BenchError, Latencies, fail, machine_notes, table
from _support import recreate_pg_schema as fresh_pg
from sqlalchemy import insert

from walletdesk.db import Database, utcnow
from walletdesk.helpcenter.models import Article, Category, DeflectionEvent
from walletdesk.helpcenter.queries import deflection_report
from walletdesk.migrate import upgrade_async

ARTICLES = 200
SPREAD_DAYS = 90
BATCH = 10_000


def event(
    question: str, channel: str, outcome: str, article_id: int | None, at: datetime
) -> dict[str, object]:
    return {
        "suggestion_id": question,
        "channel": channel,
        "locale": "en",
        "outcome": outcome,
        "article_id": article_id,
        "created_at": at,
    }


def events(questions: int, article_ids: list[int], seed: int = 3) -> list[dict[str, object]]:
    rng = random.Random(seed)
    now = utcnow()
    rows: list[dict[str, object]] = []
    for _ in range(questions):
        question = uuid.uuid4().hex
        channel = "webchat" if rng.random() < 0.7 else "email"
        at = now - timedelta(seconds=rng.uniform(60, SPREAD_DAYS * 86_400))
        article = rng.choice(article_ids)
        rows.append(event(question, channel, "shown", None, at))
        if rng.random() < 0.35:
            rows.append(event(question, channel, "opened", article, at + timedelta(seconds=5)))
        roll = rng.random()
        if roll < 0.25:
            rows.append(event(question, channel, "resolved", article, at + timedelta(seconds=20)))
        elif roll < 0.55:
            rows.append(event(question, channel, "not_resolved", None, at + timedelta(seconds=30)))
    return rows


async def fill(db: Database, questions: int) -> int:
    now = utcnow()
    async with db.transaction() as session:
        category = Category(locale="en", slug="bench", name="Bench", position=1, created_at=now)
        session.add(category)
        await session.flush()
        result = await session.execute(
            insert(Article).returning(Article.id),
            [
                {
                    "slug": f"bench-{i}",
                    "locale": "en",
                    "translation_group": f"bench-{i}",
                    "title": f"Bench article {i}",
                    "body_md": "Body.",
                    "body_html": "<p>Body.</p>",
                    "category_id": category.id,
                    "keywords": [],
                    "status": "published",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(ARTICLES)
            ],
        )
        article_ids = [int(row[0]) for row in result]
    rows = events(questions, article_ids)
    for start in range(0, len(rows), BATCH):
        async with db.transaction() as session:
            await session.execute(insert(DeflectionEvent), rows[start : start + BATCH])
    return len(rows)


async def measure(db: Database, days: int, runs: int = 5) -> tuple[Latencies, int, float]:
    timings = []
    report = None
    for run in range(runs + 1):
        started = time.perf_counter()
        async with db.transaction() as session:
            report = await deflection_report(session, utcnow() - timedelta(days=days))
        if run:  # the first run warms caches
            timings.append((time.perf_counter() - started) * 1000)
    assert report is not None
    return Latencies(timings), report.suggested, report.rate


async def bench(backend: str, url: str, questions: int) -> list[list[object]]:
    if backend == "postgresql":
        await fresh_pg(url)
    else:
        await upgrade_async(url)
    db = Database(url)
    try:
        started = time.perf_counter()
        count = await fill(db, questions)
        print(f"{backend}: {count:,} events for {questions:,} questions written in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        rows: list[list[object]] = []
        for days in (7, 30, 90):
            timings, shown, rate = await measure(db, days)
            rows.append(
                [backend, f"{days} days", f"{shown:,}", f"{rate:.3f}",
                 f"{timings.p50:.0f}", f"{timings.max:.0f}"]
            )  # fmt: skip
        return rows
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    print(machine_notes())
    results: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url = (
                args.pg_url
                if backend == "postgresql"
                else f"sqlite+aiosqlite:///{Path(tmp) / 'deflection.db'}"
            )
            try:
                results += await bench(backend, url, args.questions)
            except BenchError as exc:
                fail(str(exc))
    print(table(["backend", "window", "questions", "rate", "p50 ms", "max ms"], results))


if __name__ == "__main__":
    asyncio.run(main())
