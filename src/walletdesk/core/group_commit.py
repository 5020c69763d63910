"""Group commit: many small writes that arrive together share one transaction.

A chat node under load receives hundreds of messages a second, each a few rows. Giving
each its own transaction spends most of the time on BEGIN, COMMIT and statement
overhead; a database's own log writer solves the same problem by letting everything
that queued during one commit go out in the next. GroupCommit does that for the
application: while one batch is being written, newcomers queue; the next transaction
takes all of them. At low load a write goes alone and waits for nobody, so batching
adds no latency; it grows only when the load does.

If a batch fails, each of its items is written again alone, so one bad item fails only
its own caller and the others still land.

One batch at a time keeps the items' order (a chat's messages). Where order does not
matter (new emails, new tickets), `writers=2` lets a second batch go out while the
first waits on the database: a batch is a chain of round trips, and the process's
CPU sits idle through them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.db import Database

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

WriteBatch = Callable[[AsyncSession, Sequence[Item]], Awaitable[Sequence[Result]]]
AfterBatch = Callable[[Sequence[Result]], Awaitable[None]]


class GroupCommit(Generic[Item, Result]):
    """Queue `submit(item)` calls; write them in batches with `write_batch(session, items)`.

    `write_batch` returns one result per item, in order, inside the caller-less transaction;
    it must not commit. Results are handed back after the commit (and after its hooks);
    then `then(results)` runs, a follow-up step for the whole batch whose failure is only
    logged, beside the next batch.
    """

    def __init__(
        self,
        db: Database,
        write_batch: WriteBatch[Item, Result],
        *,
        max_batch: int = 100,
        then: AfterBatch[Result] | None = None,
        writers: int = 1,
    ) -> None:
        self.db = db
        self.write_batch = write_batch
        self.max_batch = max_batch
        self.then = then
        # SQLite has one writer at a time anyway: a second batch would only queue for it.
        self.writers = 1 if db.dialect == "sqlite" else writers
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._afters: set[asyncio.Task[None]] = set()
        # Batch sizes written, for benchmarks and the operations page.
        self.batches = 0
        self.items = 0

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        # A caller that went away never reads its error; mark it read so it isn't logged.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._pending.append((item, future))
        # Count live writers only: a writer that found nothing more to write has finished,
        # but its done-callback (which takes it out of the set) runs a step later. A submit
        # in between that counted it would strand its item until the next submit came,
        # forever for a chat's last message (seen in bench/chat.py: one lost in 15,000).
        if sum(1 for writer in self._writers if not writer.done()) < self.writers:
            writer = asyncio.create_task(self._drain())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # The caller may be cancelled (its socket closed); the write still completes.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            await self._write(batch)

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        items = [item for item, _ in batch]
        try:
            async with self.db.transaction() as session:
                results = await self.write_batch(session, items)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.debug("a batch of %d failed; writing its items one by one", len(batch))
            for one in batch:
                await self._write([one])
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        if self.then is not None:
            # Beside the next batch, not before it: the callers already have their answers.
            task = asyncio.create_task(self._after(results))
            self._afters.add(task)
            task.add_done_callback(self._afters.discard)

    async def _after(self, results: Sequence[Result]) -> None:
        assert self.then is not None
        try:
            await self.then(results)
        except Exception:
            log.exception("the step after a committed batch failed")

    async def close(self) -> None:
        """Finish what is queued (a node shutting down must not drop accepted messages)."""
        if self._writers:
            await asyncio.shield(asyncio.gather(*self._writers))
        if self._afters:
            await asyncio.gather(*self._afters)
