"""Alembic environment: runs migrations over the async engine of the configured database."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from walletdesk.db import UTCDateTime, make_engine
from walletdesk.models import metadata

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import application types: UTCDateTime is a plain aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Made by hand in migrations because the models cannot say them for one dialect only.
_HAND_MADE = {"ix_tickets_subject_trgm", "ix_tickets_assignee_updated"}
# SQLite's FTS5 index of ticket subjects (0008), its vocabulary table and the shadow tables
# FTS5 keeps its data in (tickets_subject_fts_data, _idx, _config).
_HAND_MADE_TABLE_PREFIXES = ("tickets_subject_fts", "tickets_subject_terms")


def _hand_made_table(name: str | None) -> bool:
    return name is not None and name.startswith(_HAND_MADE_TABLE_PREFIXES)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # Before reflection: SQLAlchemy need not read virtual tables it could not describe.
    return not (type_ == "table" and _hand_made_table(name))


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    if type_ == "table":
        return not _hand_made_table(name)
    return not (type_ == "index" and name in _HAND_MADE)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        include_name=_include_name,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        # Also after a failed connect: the SQLite driver's thread must stop before the loop
        # closes, or it prints a traceback after our one-line error.
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `walletdesk migrate`")
asyncio.run(_run_async())
