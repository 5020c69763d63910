"""Inbox subject search: the same answers on SQLite (FTS5 trigram index) and PostgreSQL (ILIKE).

Searches run through queries.list_tickets on both backends; each test makes subjects with a
marker no other test uses and looks only at its own tickets, since the databases are shared.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, select, text, tuple_, update

from tests.conftest import make_ticket, unique
from walletdesk.core.actors import SYSTEM
from walletdesk.core.tickets import search
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.core.tickets.queries import InboxFilter, list_tickets, visible_tickets
from walletdesk.db import Database
from walletdesk.migrate import alembic_config, upgrade_async

_hanzi = itertools.count()


def hanzi_pair() -> str:
    """Two CJK characters that no other subject of this run holds side by side."""
    n = (os.getpid() % 97) * 10_007 + next(_hanzi)
    return chr(0x4E00 + n % 20_000) + chr(0x4E00 + (n // 20_000 + 7_919) % 20_000)


def word() -> str:
    """A marker no other subject holds, not even inside a longer marker (hence the final z)."""
    return unique("w").replace("-", "q") + "z"  # number search would fold a digit-dash-digit


async def opened(db: Database, *subjects: str) -> list[str]:
    return [(await make_ticket(db, subject=s)).ticket_number for s in subjects]


async def found(db: Database, q: str, **filters: Any) -> list[str]:
    """The numbers list_tickets gives for `q`, newest first: one page of 200, checked
    against paging two at a time (each page on SQLite samples far fewer tickets, and so
    takes other ways to its rows; see core/tickets/search.py)."""
    async with db.transaction() as session:
        page = await list_tickets(session, SYSTEM, InboxFilter(q=q, **filters), limit=200)
    numbers = [t.number for t in page.tickets]
    paged: list[str] = []
    cursor = None
    while len(paged) < 200:
        async with db.transaction() as session:
            small = await list_tickets(
                session, SYSTEM, InboxFilter(q=q, **filters), cursor=cursor, limit=2
            )
        paged += [t.number for t in small.tickets]
        cursor = small.next_cursor
        if cursor is None:
            break
    assert paged[: len(numbers)] == numbers[: len(paged)], q
    return numbers


async def indexed(db: Database, text_: str) -> list[str] | None:
    """What SQLite's subject index alone finds for `text_` (None on PostgreSQL, which has none).

    A search first looks among the newest tickets, which a test's own always are; this asks
    the index, so that an index out of step with the subjects shows.
    """
    if db.dialect != "sqlite":
        return None
    async with db.transaction() as session:
        match = await search.index_query(session, text_.lower())
        assert match is not None
        plan = await search.choose(session, match)
        rows = await search.run(session, visible_tickets(SYSTEM), plan, text_, 200, match)
        return [t.number for t in rows]


async def test_ascii_search_is_a_substring_in_either_case(db: Database) -> None:
    w = word()
    hit, mixed, other = await opened(
        db, f"Refund {w} ledger mismatch", f"REFUND {w.upper()} Ledger", f"Payment {w} failed"
    )
    assert set(await found(db, f"{w} ledger")) == {hit, mixed}
    assert set(await found(db, f"{w.upper()} LEDGER")) == {hit, mixed}
    assert set(await found(db, w.upper())) == {hit, mixed, other}
    assert set(await found(db, f"efund {w}")) == {hit, mixed}
    assert await found(db, f"{w} ledgers") == []
    # Outside ASCII, whether case is ignored depends on PostgreSQL's locale: only as typed here.
    (accent,) = await opened(db, f"Café {w}")
    assert await found(db, f"café {w}") == [accent]


async def test_chinese_words_of_one_two_and_four_characters(db: Database) -> None:
    pair, w = hanzi_pair(), word()
    inside, at_end, spaced, four, apart = await opened(
        db,
        f"{w} {pair}未到账",
        f"{w} 账户{pair}",
        f"{w} {pair[0]} {pair[1]}",
        f"{w} 实名认证{pair}审核中",
        f"{w} {pair[1]}{pair[0]}",
    )
    assert set(await found(db, pair)) == {inside, at_end, four}
    assert set(await found(db, f"{pair}未")) == {inside}
    assert set(await found(db, f"认证{pair}审")) == {four}
    assert set(await found(db, f"实名认证{pair}")) == {four}
    # One character: every subject holding it, wherever it stands.
    assert set(await found(db, pair[0])) >= {inside, at_end, spaced, four, apart}
    assert await found(db, hanzi_pair()) == []
    assert await found(db, f"{w} {pair[0]}{pair[0]}") == []


async def test_search_syntax_in_the_text_is_just_text(db: Database) -> None:
    w = word()
    quoted, near, star, percent, under, slash, plain = await opened(
        db,
        f'{w} card "blocked" again',
        f"{w} NEAR(a b) OR c",
        f"{w} pay*ment -x ^y col:z",
        f"{w} fee 100% back",
        f"{w} a_b",
        f"{w} C:\\temp",
        f"{w} blocked OR near",
    )
    mine = {quoted, near, star, percent, under, slash, plain}

    async def ours(q: str) -> set[str]:
        return set(await found(db, q)) & mine

    assert await ours('"blocked"') == {quoted}
    assert await ours('card "blocked" again') == {quoted}
    assert await ours('"') == {quoted}
    assert await ours(f'{w}" OR "') == set()
    assert await ours("NEAR(a b) OR c") == {near}
    assert await ours("blocked OR near") == {plain}
    assert await ours("pay*ment") == {star}
    assert await ours("pay*") == {star}
    assert await ours("-x ^y col:z") == {star}
    assert await ours("100%") == {percent}
    assert await ours("%") == {percent}
    assert await ours("a_b") == {under}
    assert await ours("_") == {under}
    assert await ours("C:\\temp") == {slash}
    assert await ours("\\") == {slash}
    assert await ours("*") == {star}
    assert await found(db, "a\x00b") == []
    assert await found(db, f"{w}\x01") == []  # what the SQLite index pads subjects with


async def test_cursor_pages_through_search_results_newest_first(db: Database) -> None:
    w, pair = word(), hanzi_pair()
    numbers = await opened(db, *[f"{w} 第{i}单 {pair}" for i in range(7)])
    await opened(db, f"{w[:-1]} {pair[0]}")  # neither marker: not one of ours
    async with db.transaction() as session:
        # Touch an old one: it moves to the front.
        ticket = await session.scalar(select(Ticket).where(Ticket.number == numbers[2]))
        assert ticket is not None
        ticket.updated_at = ticket.updated_at.replace(year=ticket.updated_at.year + 1)
    newest_first = [numbers[2]] + [n for n in reversed(numbers) if n != numbers[2]]
    # The marker is looked up in the index; the two characters are first looked for among
    # the newest tickets, where every page but the last is found.
    for q in (w, pair):
        walked: list[str] = []
        cursor = None
        for _ in range(5):
            async with db.transaction() as session:
                page = await list_tickets(session, SYSTEM, InboxFilter(q=q), cursor=cursor, limit=3)
            walked += [t.number for t in page.tickets]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert walked == newest_first, q


async def test_a_changed_or_removed_subject_is_searched_as_it_is_now(db: Database) -> None:
    before, after, pair = word(), word(), hanzi_pair()
    (number,) = await opened(db, f"{before} 提现失败")
    assert await found(db, before) == [number]
    async with db.transaction() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        ticket.subject = f"{after} {pair}"
    assert await found(db, before) == []
    assert await found(db, after) == [number]
    assert await found(db, pair) == [number]
    assert number not in await found(db, "提现失败")
    if db.dialect == "sqlite":
        assert await indexed(db, before) == []
        assert await indexed(db, after) == [number]
        assert await indexed(db, pair) == [number]
    async with db.transaction() as session:
        ticket_id = await session.scalar(select(Ticket.id).where(Ticket.number == number))
        await session.execute(delete(Message).where(Message.ticket_id == ticket_id))
        await session.execute(delete(Ticket).where(Ticket.id == ticket_id))
    assert await found(db, after) == []
    assert await found(db, pair) == []
    if db.dialect == "sqlite":
        assert await indexed(db, after) == []
        assert await indexed(db, pair) == []


async def test_search_combines_with_filters(db: Database) -> None:
    w = word()
    numbers = await opened(db, f"{w} 银行卡绑定失败", f"{w} 银行卡绑定失败")
    async with db.transaction() as session:
        await session.execute(
            update(Ticket).where(Ticket.number == numbers[0]).values(status="closed")
        )
    assert await found(db, f"{w} 银行卡", status="active") == [numbers[1]]
    assert await found(db, f"{w} 银行卡", status="closed") == [numbers[0]]
    assert await found(db, f"{w} 银行卡", tier=2) == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_every_sqlite_plan_gives_the_same_page(db: Database) -> None:
    """The plan is chosen by cost; whichever runs, the rows must be the same ones."""
    w, pair = word(), hanzi_pair()
    await opened(db, *[f"{w} {'Ledger' if i % 2 else 'other'} {pair}{i % 3}" for i in range(9)])
    async with db.transaction() as session:
        mine = (
            await session.scalars(
                select(Ticket).where(Ticket.subject.like(f"{w} %")).order_by(Ticket.id)
            )
        ).all()
        mine[1].status = "closed"
        mine[4].tier = 2
    newest = mine[-1]
    queries = {
        "all": visible_tickets(SYSTEM),
        "filtered, page 2": visible_tickets(SYSTEM).where(
            Ticket.status != "closed",
            Ticket.tier == 1,
            tuple_(Ticket.updated_at, Ticket.id) < tuple_(newest.updated_at, newest.id),
        ),
    }
    for term, (name, query) in itertools.product([f"{w} ledger", pair, pair[0]], queries.items()):
        async with db.transaction() as session:
            match = await search.index_query(session, term.lower())
            assert match
            looked_up = await search.run(session, query, search.Plan.LOOKUP, term, 3, match)
            in_order = await search.run(session, query, search.Plan.ORDERED_LIKE, term, 3)
        assert len(looked_up) == 3, (term, name)
        assert [t.number for t in looked_up] == [t.number for t in in_order], (term, name)
        if name != "all":
            left_out = {newest.number, mine[1].number, mine[4].number}
            assert not left_out & {t.number for t in looked_up}, term


async def test_a_short_word_before_many_different_characters(db: Database) -> None:
    """Too many trigrams start with it for the index to help: the inbox is read in order."""
    first = hanzi_pair()[0]
    followers = [chr(0x3400 + (ord(first) * 131 + i) % 6000) for i in range(70)]
    numbers = await opened(db, *[f"{first}{c}" for c in followers])
    if db.dialect == "sqlite":
        async with db.transaction() as session:
            assert await search.index_query(session, first) is None
    hits = set(await found(db, first))
    assert set(numbers) <= hits
    # Other tests of the run may hold the same single character; nothing without it may come.
    async with db.transaction() as session:
        subjects = list(
            await session.scalars(select(Ticket.subject).where(Ticket.number.in_(hits)))
        )
    assert all(first in subject for subject in subjects)
    assert numbers[5] in await found(db, first + followers[5])


async def test_the_migration_indexes_subjects_already_there(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade_async(url, "0007")
    w = word()
    db = Database(url)
    try:
        async with db.transaction() as session:
            # Plain SQL: the schema of 0007, whatever the models say later.
            await session.execute(
                text(
                    "INSERT INTO contacts (id, name, created_at, updated_at) "
                    "VALUES (1, 'c', '2026-01-01', '2026-01-01')"
                )
            )
            for n, subject in enumerate([f"{w} 转账未到账", f"{w} Ledger"], start=1):
                await session.execute(
                    text(
                        "INSERT INTO tickets (id, number, subject, status, priority, category, "
                        "tier, contact_id, channel, created_at, updated_at) VALUES (:id, :number, "
                        ":subject, 'new', 'normal', 'other', 1, 1, 'api', :at, :at)"
                    ),
                    {"id": n, "number": f"10000000{n}", "subject": subject, "at": f"2026-01-0{n}"},
                )
    finally:
        await db.dispose()
    await upgrade_async(url)
    db = Database(url)
    try:
        assert await found(db, f"{w} 转账") == ["100000001"]
        assert await found(db, "未到") == ["100000001"]
        assert await found(db, f"{w} LEDGER") == ["100000002"]
        assert await found(db, w) == ["100000002", "100000001"]
        assert await indexed(db, f"{w} 转账") == ["100000001"]
        assert await indexed(db, "未到") == ["100000001"]
        assert await indexed(db, f"{w} LEDGER") == ["100000002"]
    finally:
        await db.dispose()


async def test_the_schema_matches_the_models(db_url: str) -> None:
    """autogenerate sees no drift: the FTS5 tables and hand-made indexes are left out."""
    import asyncio

    await asyncio.to_thread(command.check, alembic_config(db_url))
