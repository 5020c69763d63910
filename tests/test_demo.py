"""The demo seed: a lived-in help desk, made through the services, once; and `walletdesk demo`."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from walletdesk.core.agents.models import Agent, Role
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.tickets.models import (
    AuthorKind,
    DeliveryStatus,
    Message,
    Status,
    Ticket,
    ticket_tags,
)
from walletdesk.db import Database, utcnow
from walletdesk.demo import DEMO_AGENTS, DEMO_PASSWORD, seed_demo
from walletdesk.migrate import upgrade_async
from walletdesk.settings import Settings

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def demo_url(backend: str, db_url: str, tmp_path: Path) -> str:
    """SQLite: a fresh file of its own (the shared one holds other tests' rows).

    PostgreSQL: the session's database; the test looks only at the rows the seed adds.
    """
    if backend == "postgres":
        return db_url
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    await upgrade_async(url)
    return url


def demo_settings(url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]


async def test_demo_seeds_a_lived_in_help_desk(demo_url: str, tmp_path: Path) -> None:
    db = Database(demo_url)
    try:
        async with db.transaction() as session:
            before = await session.scalar(select(func.coalesce(func.max(Ticket.id), 0)))

        logins = await seed_demo(demo_settings(demo_url, tmp_path))

        assert [email for email, _, _ in logins] == [agent.email for agent in DEMO_AGENTS]
        assert all(email.endswith("@walletdesk.test") for email, _, _ in logins)
        assert {role for _, role, _ in logins} == set(Role)
        assert {tier for _, role, tier in logins if role == Role.AGENT} == {1, 2, 3}
        assert len(DEMO_PASSWORD) >= 10

        async with db.transaction() as session:
            l1_locales = set(
                (
                    await session.scalars(
                        select(Agent.locale).where(
                            Agent.email.in_([email for email, _, _ in logins]),
                            Agent.role == Role.AGENT,
                            Agent.tier == 1,
                        )
                    )
                ).all()
            )
            tickets = (await session.scalars(select(Ticket).where(Ticket.id > before))).all()
            ids = [t.id for t in tickets]
            messages = (
                await session.scalars(
                    select(Message).where(Message.ticket_id.in_(ids)).order_by(Message.id)
                )
            ).all()
            tagged = set(
                (
                    await session.scalars(
                        select(ticket_tags.c.ticket_id).where(ticket_tags.c.ticket_id.in_(ids))
                    )
                ).all()
            )
            jobs = (
                await session.scalars(select(OutboxJob).where(OutboxJob.ticket_id.in_(ids)))
            ).all()

        assert l1_locales == {"zh-CN", "en"}
        assert len(tickets) >= 36
        assert {t.status for t in tickets} == set(Status)
        assert len({t.channel for t in tickets}) >= 4
        assert {2, 3} <= {t.tier for t in tickets}
        assert any(t.assignee_id for t in tickets) and any(not t.assignee_id for t in tickets)
        assert tagged
        zh = [t for t in tickets if t.locale == "zh-CN"]
        en = [t for t in tickets if t.locale == "en"]
        assert len(zh) + len(en) == len(tickets) and len(zh) > len(en) > len(tickets) // 4

        text_of: dict[int, str] = defaultdict(str)  # what the customer and agents wrote
        for message in messages:
            if message.author_kind != AuthorKind.SYSTEM:
                text_of[message.ticket_id] += message.body_text
        assert all(CJK.search(text_of[t.id]) for t in zh)
        assert not any(CJK.search(text_of[t.id]) for t in en)

        kinds = {(m.author_kind, m.internal) for m in messages}
        assert {
            (AuthorKind.CUSTOMER, False),
            (AuthorKind.AGENT, False),
            (AuthorKind.AGENT, True),
            (AuthorKind.SYSTEM, True),
        } <= kinds
        assert any(m.body_text.startswith("Escalated L1 → L2") for m in messages)

        # One customer followed a closed chat up by email, quoting its number.
        follow_up = next(t for t in tickets if t.follow_up_of_id is not None)
        original = next(t for t in tickets if t.id == follow_up.follow_up_of_id)
        assert original.status == Status.CLOSED
        assert follow_up.contact_id == original.contact_id
        assert {follow_up.channel, original.channel} == {"webchat", "email"}
        assert original.number in text_of[follow_up.id]
        # Someone else quoting a ticket number is attached but flagged, never trusted.
        assert any(m.sender_mismatch for m in messages)

        # History spread over the last two weeks, each ticket's messages in order.
        now = utcnow()
        assert all(now - timedelta(days=14) <= t.created_at <= t.updated_at <= now for t in tickets)
        assert max(t.created_at for t in tickets) - min(t.created_at for t in tickets) > timedelta(
            days=7
        )
        by_ticket: dict[int, list[Message]] = defaultdict(list)
        for message in messages:
            by_ticket[message.ticket_id].append(message)
        for ticket in tickets:
            stamps = [m.created_at for m in by_ticket[ticket.id]]
            assert stamps == sorted(stamps) and stamps[0] == ticket.created_at
        # Past replies count as delivered, so the console shows no stale delivery errors.
        replies = [m for m in messages if m.author_kind == AuthorKind.AGENT and not m.internal]
        assert replies and all(m.delivery_status == DeliveryStatus.SENT for m in replies)
        assert len(jobs) == len(replies)
        assert all(job.status == OutboxStatus.DONE for job in jobs)

        # A second run finds the demo admin and adds nothing.
        assert await seed_demo(demo_settings(demo_url, tmp_path)) == logins
        async with db.transaction() as session:
            again = await session.scalar(select(func.count(Ticket.id)).where(Ticket.id > before))
        assert again == len(tickets)
    finally:
        await db.dispose()


def run_demo_command(data_dir: Path) -> subprocess.CompletedProcess[str]:
    # A clean environment: no WALLETDESK_* from the developer's shell, no .env in cwd.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETDESK_")}
    env["WALLETDESK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-c", "from walletdesk.cli import main; main()", "demo", "--seed-only"],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_command_seeds_once_and_prints_the_logins(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = run_demo_command(data_dir)
    assert first.returncode == 0, first.stderr
    assert "http://127.0.0.1:8000/console/" in first.stdout
    assert DEMO_PASSWORD in first.stdout
    for agent in DEMO_AGENTS:
        assert agent.email in first.stdout
    with sqlite3.connect(data_dir / "walletdesk.db") as conn:
        (seeded,) = conn.execute("SELECT count(*) FROM tickets").fetchone()
    assert seeded >= 36

    second = run_demo_command(data_dir)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    with sqlite3.connect(data_dir / "walletdesk.db") as conn:
        (after,) = conn.execute("SELECT count(*) FROM tickets").fetchone()
    assert after == seeded
