"""Subject search in the inbox on SQLite: a trigram index, and when reading in order is cheaper.

A search means the same on both databases: the subjects that contain the text as typed,
ASCII letters in either case (what SQLite's LIKE compares; PostgreSQL answers with ILIKE and
its pg_trgm index). Migration 0008 keeps an FTS5 trigram index of the subjects in step with
the tickets table; it holds each subject with ASCII letters lowered and two U+0001 after it.

The index says which tickets hold a text, but to be put in `updated_at` order they then
have to be read one by one (about 5 µs each at 1,000,000 tickets, bench/inbox.py); reading
the inbox's own ordered index and testing each subject with LIKE costs about 2 µs a ticket
until the page is full, 50 / share-of-subjects tickets. So a search first tests the newest
tickets of its filters (a common text fills the page there, or shows it soon will: read on,
Plan.ORDERED_LIKE); otherwise the index counts the text's matches up to LOOKUP_AT_MOST:
fewer, and exactly those are read (Plan.LOOKUP); as many, and reading on is cheaper. Every
plan gives the same rows.

Texts of three characters and more are one FTS5 phrase, quoted so that `"`, `*`, NEAR or OR
typed by a person are text. Shorter ones (Chinese words are often two characters: 转账) have
no trigram of their own; the index lists the trigrams that start with them (the padding
gives every character one) and any of those is searched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    column,
    func,
    literal_column,
    select,
    table,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.util import ClauseAdapter

from walletdesk.core.tickets.models import Ticket

# The names migration 0008 gives them.
FTS = "tickets_subject_fts"
TERMS = "tickets_subject_terms"
PAD = "\x01"
TRIGRAM = 3

# Fewer matches than this are read by id; more, and the inbox is read in order.
LOOKUP_AT_MOST = 5000
# A text is first looked for among this many of the newest tickets per row asked for: one
# in 5 % of subjects fills the page there...
SAMPLE_PER_ROW = 20
# ...and one found for at least 1/WALK_ON_FROM of the page there (0.5 %) fills it within
# about WALK_ON_FROM times as many: the inbox is read on without asking the index.
WALK_ON_FROM = 10
# A short text that begins more trigrams than this is common (and an FTS5 OR of that many
# costs ~15 ms): the inbox is read in order instead.
MAX_PREFIX_TRIGRAMS = 64

NEWEST_FIRST = (Ticket.updated_at.desc(), Ticket.id.desc())

_fts = table(FTS, column("rowid"))
_terms = table(TERMS, column("term"))
_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


class Plan(StrEnum):
    """How a search runs; every plan gives the same rows, only the cost differs."""

    NONE = "none"  # the index knows no subject holding the text
    LOOKUP = "lookup"  # the tickets the index matched, read by id and put in order
    ORDERED_LIKE = "ordered_like"  # the inbox order, keeping subjects LIKE the text


def like_pattern(term: str) -> str:
    """`term` anywhere in a subject, its `%`, `_` and `\\` meaning themselves (escape `\\`)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def subject_like(
    term: str, subject: QueryableAttribute[str] = Ticket.subject
) -> ColumnElement[bool]:
    return subject.ilike(like_pattern(term), escape="\\")


def fts_phrase(text_: str) -> str:
    """An FTS5 string: one phrase whatever the text holds (a `"` is written twice)."""
    return '"' + text_.replace('"', '""') + '"'


def matched_ids(match: str) -> Select[int]:
    return select(_fts.c.rowid).where(literal_column(FTS).op("MATCH")(match))


async def search_page(
    session: AsyncSession, query: Select[Ticket], term: str, fetch: int
) -> Sequence[Ticket]:
    """Up to `fetch` tickets of `query` (filters and cursor applied) whose subject has `term`."""
    folded = term.translate(_ASCII_LOWER)
    if PAD in folded:
        # Only the padding could match it in the index; LIKE knows better.
        return await run(session, query, Plan.ORDERED_LIKE, term, fetch)
    newest, last = await _newest_matching(session, query, term, fetch)
    if len(newest) >= fetch or last is None:
        return newest  # a full page, or the sample was every ticket of the query
    # The rest of the page comes from the tickets older than the sample.
    older = query.where(tuple_(Ticket.updated_at, Ticket.id) < tuple_(*last))
    match: str | None = ""
    if len(newest) >= max(1, fetch // WALK_ON_FROM):
        plan = Plan.ORDERED_LIKE
    else:
        match = await index_query(session, folded)
        plan = await choose(session, match)
    return [*newest, *await run(session, older, plan, term, fetch - len(newest), match or "")]


async def choose(session: AsyncSession, match: str | None) -> Plan:
    """The plan for an FTS5 query from index_query, by how many subjects it matches."""
    if match is None:
        return Plan.ORDERED_LIKE
    if not match:
        return Plan.NONE
    bounded = matched_ids(match).limit(LOOKUP_AT_MOST).subquery()
    counted = await session.scalar(select(func.count()).select_from(bounded))
    if not counted:
        return Plan.NONE
    return Plan.LOOKUP if counted < LOOKUP_AT_MOST else Plan.ORDERED_LIKE


async def index_query(session: AsyncSession, folded: str) -> str | None:
    """The FTS5 query for a folded text: its phrase, or any trigram a shorter text begins.

    "" when no subject in the index holds the text; None when the index cannot help.
    """
    if len(folded) >= TRIGRAM:
        return fts_phrase(folded)
    after = _successor(folded)
    query = select(_terms.c.term).where(_terms.c.term >= folded)
    if after is not None:
        query = query.where(_terms.c.term < after)
    found = (await session.scalars(query.limit(MAX_PREFIX_TRIGRAMS + 1))).all()
    if len(found) > MAX_PREFIX_TRIGRAMS:
        return None
    return " OR ".join(fts_phrase(t) for t in found if t.startswith(folded))


async def run(
    session: AsyncSession,
    query: Select[Ticket],
    plan: Plan,
    term: str,
    fetch: int,
    match: str = "",
) -> Sequence[Ticket]:
    """Up to `fetch` tickets of `query` in inbox order, found as `plan` says.

    `match` is the FTS5 query that stands for `term`, which Plan.LOOKUP needs.
    """
    if plan is Plan.NONE:
        return []
    if plan is Plan.ORDERED_LIKE:
        ordered = query.where(subject_like(term)).order_by(*NEWEST_FIRST).limit(fetch)
        return (await session.scalars(ordered)).all()
    return (await session.scalars(_looked_up(query, match, fetch))).all()


def _looked_up(query: Select[Ticket], match: str, fetch: int) -> Select[Ticket]:
    """`query`'s tickets among the index's matches, read by id; the filters apply after.

    Asked for filters and matches together, SQLite without statistics (it has none unless
    someone runs ANALYZE) walks a filter's index and tests every id against the matches. An
    inner query with a LIMIT (-1: none) is one it neither merges with the outer query nor
    pushes the filters into, so it can only read the matched ids.
    """
    read = select(Ticket).where(Ticket.id.in_(matched_ids(match))).limit(-1).subquery("matched")
    found = aliased(Ticket, read)
    ordered = select(found).order_by(found.updated_at.desc(), found.id.desc()).limit(fetch)
    if query.whereclause is None:
        return ordered
    return ordered.where(ClauseAdapter(read).traverse(query.whereclause))


async def _newest_matching(
    session: AsyncSession, query: Select[Ticket], term: str, fetch: int
) -> tuple[Sequence[Ticket], Row[datetime, int] | None]:
    """The matches among the newest `fetch × SAMPLE_PER_ROW` tickets of `query`, and the
    (updated_at, id) of the last of those tickets (None when `query` has no more than them).
    """
    # Read from the filters' index alone. As a bound on the ordered walk it lets SQLite stop
    # there, or sooner when the page is full.
    last = (
        await session.execute(
            query.with_only_columns(Ticket.updated_at, Ticket.id)
            .order_by(*NEWEST_FIRST)
            .offset(fetch * SAMPLE_PER_ROW - 1)
            .limit(1)
        )
    ).first()
    sample = query.where(subject_like(term))
    if last is not None:
        sample = sample.where(tuple_(Ticket.updated_at, Ticket.id) >= tuple_(*last))
    return (await session.scalars(sample.order_by(*NEWEST_FIRST).limit(fetch))).all(), last


def _successor(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (None: no such bound)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are no characters: skip to the next one
        last = 0xE000
    if last > 0x10FFFF:
        return None
    return prefix[:-1] + chr(last)
