"""Allocating ticket numbers from a counter that several processes share.

PostgreSQL: a sequence stepping by BLOCK; each process takes a block with one
`nextval` and hands out its numbers locally (hi/lo). `nextval` is outside transactions,
so a rolled-back ticket only leaves a gap, and nodes never wait on one another.

SQLite: one process writes at a time anyway, so the counter row is bumped inside the
caller's transaction and rolls back with it.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.tickets.models import TicketNumberBlock
from walletdesk.core.tickets.numbers import number_for_sequence

BLOCK = 100
SEQUENCE_NAME = "ticket_number_seq"
COUNTER_NAME = "ticket"


class _Blocks:
    def __init__(self) -> None:
        self.next = 0
        self.end = 0
        self.lock = asyncio.Lock()


_blocks: dict[str, _Blocks] = {}


async def next_ticket_number(session: AsyncSession) -> str:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return number_for_sequence(await _next_from_sequence(session, str(bind.engine.url)))
    value = await session.scalar(
        update(TicketNumberBlock)
        .where(TicketNumberBlock.name == COUNTER_NAME)
        .values(next_value=TicketNumberBlock.next_value + 1)
        .returning(TicketNumberBlock.next_value - 1)
    )
    if value is None:
        raise RuntimeError("ticket number counter missing: run `walletdesk migrate`")
    return number_for_sequence(int(value))


async def _next_from_sequence(session: AsyncSession, key: str) -> int:
    blocks = _blocks.setdefault(key, _Blocks())
    async with blocks.lock:
        if blocks.next >= blocks.end:
            start = int(await session.scalar(text(f"SELECT nextval('{SEQUENCE_NAME}')")) or 0)
            # The sequence starts at 1 and steps by BLOCK: value v owns [v-1, v-1+BLOCK).
            blocks.next, blocks.end = start - 1, start - 1 + BLOCK
        value = blocks.next
        blocks.next += 1
        return value


async def peek_counter(session: AsyncSession) -> int | None:
    return await session.scalar(
        select(TicketNumberBlock.next_value).where(TicketNumberBlock.name == COUNTER_NAME)
    )
