"""Writing outbox jobs (inside the caller's transaction) and claiming them (in a worker's)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.events import emit
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.db import utcnow

OUTBOX_TOPIC = "outbox"

# The table, for the hot batch statements: plain Core, without the ORM's bulk machinery.
JOBS = cast(Table, OutboxJob.__table__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    payload: dict[str, Any]
    ticket_id: int | None = None
    idempotency_key: str | None = None
    max_attempts: int = 8
    # Seconds before a worker may take it: the grace in which its node may settle it first.
    delay: float = 0.0


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    ticket_id: int | None = None,
    idempotency_key: str | None = None,
    max_attempts: int = 8,
) -> None:
    """Add a job in the caller's transaction: it exists exactly when the change causing it does."""
    await enqueue_many(
        session, kind, [OutboxEntry(payload, ticket_id, idempotency_key, max_attempts)]
    )


async def enqueue_many(session: AsyncSession, kind: str, entries: Sequence[OutboxEntry]) -> None:
    """Add several jobs of one kind with one statement (a batch of chat replies)."""
    if not entries:
        return
    now = utcnow()
    await session.execute(
        insert(JOBS),
        [
            {
                "kind": kind,
                "payload": entry.payload,
                "ticket_id": entry.ticket_id,
                "idempotency_key": entry.idempotency_key or f"{kind}:{uuid.uuid4().hex}",
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "max_attempts": entry.max_attempts,
                "next_attempt_at": now + timedelta(seconds=entry.delay),
                "created_at": now,
            }
            for entry in entries
        ],
    )
    # Wakes idle workers now instead of at their next poll.
    emit(session, OUTBOX_TOPIC, {"type": "outbox.enqueued", "kind": kind})


async def claim(
    session: AsyncSession, worker_id: str, *, limit: int, lease: timedelta
) -> Sequence[OutboxJob]:
    """Take up to `limit` due jobs for this worker.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets any number of workers claim side by side
    without ever taking the same row; on SQLite the write transaction is already exclusive.
    A job whose worker died is due again once its lease has run out.
    """
    now = utcnow()
    due = (
        select(OutboxJob.id)
        .where(
            or_(
                and_(OutboxJob.status == OutboxStatus.PENDING, OutboxJob.next_attempt_at <= now),
                and_(OutboxJob.status == OutboxStatus.SENDING, OutboxJob.lease_until < now),
            )
        )
        .order_by(OutboxJob.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(ids))
        .values(
            status=OutboxStatus.SENDING,
            claimed_by=worker_id,
            lease_until=now + lease,
            attempts=OutboxJob.attempts + 1,
        )
    )
    jobs = (
        await session.scalars(
            select(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .order_by(OutboxJob.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return jobs


def backoff(attempts: int, base: float = BACKOFF_BASE_SECONDS) -> timedelta:
    """Exponential with full jitter over its upper half, so retries of one outage spread out."""
    ceiling = min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


async def _finish(session: AsyncSession, job: OutboxJob, worker_id: str, **values: Any) -> bool:
    """Update a job this worker still holds; False if its lease ran out and someone else took it."""
    result = await session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == job.id,
            OutboxJob.claimed_by == worker_id,
            OutboxJob.status == OutboxStatus.SENDING,
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def settle(session: AsyncSession, idempotency_keys: Sequence[str]) -> list[str]:
    """Mark jobs done that their own node completed in the grace before any worker took them.

    Returns the keys settled; a job a worker has claimed meanwhile is left to that worker.
    """
    if not idempotency_keys:
        return []
    rows = await session.execute(_SETTLE, {"b_keys": list(idempotency_keys), "b_now": utcnow()})
    return list(rows.scalars())


# A live chat settles every reply it delivered itself: built once, bound per batch.
_SETTLE = (
    update(JOBS)
    .where(
        JOBS.c.idempotency_key.in_(bindparam("b_keys", expanding=True)),
        JOBS.c.status == OutboxStatus.PENDING,
    )
    .values(status=OutboxStatus.DONE, done_at=bindparam("b_now"), last_error=None)
    .returning(JOBS.c.idempotency_key)
)


async def mark_done(session: AsyncSession, job: OutboxJob, worker_id: str) -> bool:
    return await _finish(
        session, job, worker_id, status=OutboxStatus.DONE, done_at=utcnow(), last_error=None
    )


async def mark_failed(
    session: AsyncSession,
    job: OutboxJob,
    worker_id: str,
    error: str,
    *,
    permanent: bool,
    settings_fault: bool = False,
    base_delay: float = BACKOFF_BASE_SECONDS,
) -> bool | None:
    """Schedule the next attempt, or give up for good; returns whether the job is now dead.

    A settings fault (the channel's configuration refuses, not the message) never kills the
    job nor spends its last attempt: it waits, retried at the longest pause its attempts
    allow, until an admin fixes the settings. None if this worker's lease ran out and
    another worker holds the job now.
    """
    dead = not settings_fault and (permanent or job.attempts >= job.max_attempts)
    attempts = min(job.attempts, max(job.max_attempts - 1, 0)) if settings_fault else job.attempts
    next_at: datetime = utcnow() + backoff(job.attempts, base_delay)
    held = await _finish(
        session,
        job,
        worker_id,
        status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
        attempts=attempts,
        next_attempt_at=next_at,
        lease_until=None,
        last_error=error[:2000],
    )
    return dead if held else None


async def jobs_for_ticket(session: AsyncSession, ticket_id: int) -> Sequence[OutboxJob]:
    return (
        await session.scalars(
            select(OutboxJob).where(OutboxJob.ticket_id == ticket_id).order_by(OutboxJob.id)
        )
    ).all()
