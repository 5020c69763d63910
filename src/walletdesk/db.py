"""Engine, sessions and the declarative base.

The request or job boundary owns the transaction (`Database.transaction`); service
functions receive the session, change rows and may flush, but never commit. Work
that must only happen once the change is durable (publishing live events) is queued
with `after_commit` and run by the boundary after a successful commit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Always hands back aware UTC datetimes; SQLite would otherwise return naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# The largest ids the columns hold on PostgreSQL (INTEGER, BIGINT): input beyond them is
# refused as bad input instead of failing in the driver.
MAX_INT_ID = 2**31 - 1
MAX_BIGINT_ID = 2**63 - 1

AfterCommit = Callable[[], Awaitable[None]]

SQLITE_TURN_TIMEOUT = 30.0  # as long as SQLite's own busy_timeout


class DatabaseBusy(Exception):
    """Waited too long for SQLite's single writer."""


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the boundary's transaction has committed; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # We issue BEGIN ourselves (below) so that it can be IMMEDIATE.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes fails with SQLITE_BUSY when
            # another writer committed in between; taking the write lock up front makes
            # concurrent requests wait their turn (busy_timeout) instead of failing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", False)  # see Settings.db_pool_pre_ping
    return create_async_engine(url, **kwargs)


class Database:
    def __init__(self, url: str, *, bus: Any = None, **engine_kwargs: Any) -> None:
        self.url = url
        # The event bus that after-commit hooks publish on (see walletdesk.core.events.emit).
        self.bus = bus
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Queueing this process's transactions on a lock hands the
        # write lock over in order; left to busy_timeout's polling, waiters sleep and retry
        # and the unlucky ones wait seconds (bench/ingest.py: p99 2.9 s → 0.6 s).
        self._sqlite_turn = asyncio.Lock() if is_sqlite(url) else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on error, then run after-commit hooks.

        Never open a second transaction inside one: on SQLite it waits for the first.
        """
        turn = self._sqlite_turn
        if turn is not None:
            try:
                # Not wait_for: on Python 3.11 it swallows a cancel that arrives as the
                # turn is handed over, and the cancelled task carries on.
                async with asyncio.timeout(SQLITE_TURN_TIMEOUT):
                    await turn.acquire()
            except TimeoutError:
                raise DatabaseBusy("the database stayed busy too long; try again") from None
        try:
            async with self.sessionmaker() as session:
                session.info["bus"] = self.bus
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
        finally:
            if turn is not None:
                turn.release()
        for callback in callbacks:
            try:
                await callback()
            except Exception:  # a live-event hint must never undo a committed change
                log.exception("after-commit hook failed")

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_ignoring_conflicts(session: AsyncSession, table: Any, *returning: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING [RETURNING …]` in the session's dialect.

    Statements are immutable (`.values()` and `.returning()` make new ones), and building
    one costs more than running it: one per dialect, table and RETURNING list is built once
    and reused (bind the row as execute() parameters, not with `.values()`).
    """
    return ignoring_conflicts(session.get_bind().dialect.name, table, *returning)


@functools.cache
def ignoring_conflicts(dialect: str, table: Any, *returning: Any) -> Any:
    """insert_ignoring_conflicts() for a dialect named in advance ("postgresql", "sqlite")."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement = (
        (postgresql if dialect == "postgresql" else sqlite).insert(table).on_conflict_do_nothing()
    )
    return statement.returning(*returning) if returning else statement
