"""The outbox worker: claims due jobs, runs their handler, records the outcome, retries."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.channels import ChannelSettingsError, DeliveryError, PermanentDeliveryError
from walletdesk.core.events import EventBus
from walletdesk.core.outbox import service
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.db import Database

log = logging.getLogger(__name__)


class JobHandler(Protocol):
    async def run(self, job: OutboxJob) -> str | None:
        """Do the job; raise DeliveryError to retry, PermanentDeliveryError to give up,
        ChannelSettingsError to wait for an admin.

        Returns the platform's id for what was sent, if it gave one.
        """

    async def record(
        self,
        session: AsyncSession,
        job: OutboxJob,
        *,
        error: str | None,
        reason: str | None,
        dead: bool,
        external_id: str | None,
    ) -> None:
        """Record the outcome of one attempt where people see it (on the ticket).

        `reason` is one of core.channels.DELIVERY_REASONS when `error` is set.
        """


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        handlers: dict[str, JobHandler],
        *,
        bus: EventBus | None = None,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=5),
        backoff_base: float = service.BACKOFF_BASE_SECONDS,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease = lease
        self.backoff_base = backoff_base
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        """Claim and process one batch; returns how many jobs it handled."""
        async with self.db.transaction() as session:
            jobs = await service.claim(
                session, self.worker_id, limit=self.batch_size, lease=self.lease
            )
        await asyncio.gather(*(self._process(job) for job in jobs))
        return len(jobs)

    async def _process(self, job: OutboxJob) -> None:
        handler = self.handlers.get(job.kind)
        error: str | None = None
        reason = "internal"  # what the console says of the error, in the agent's language
        permanent = settings_fault = False
        external_id: str | None = None
        if handler is None:
            error, permanent = f"no handler for job kind {job.kind!r}", True
        elif job.attempts > job.max_attempts:
            # Claimed again and again after leases ran out: each attempt killed its worker or
            # hung. Running it once more would only do that again.
            error = f"gave up after {job.max_attempts} attempts that never finished"
            permanent = True
        else:
            try:
                external_id = await handler.run(job)
            except PermanentDeliveryError as exc:
                error, reason, permanent = str(exc) or type(exc).__name__, exc.reason, True
            except ChannelSettingsError as exc:
                error, reason, settings_fault = str(exc) or type(exc).__name__, exc.reason, True
            except DeliveryError as exc:
                error, reason = str(exc) or type(exc).__name__, exc.reason
            except Exception as exc:  # a bug in a handler must not stop the worker
                log.exception("outbox job %s (%s) crashed", job.id, job.kind)
                error = f"internal error: {type(exc).__name__}"
        async with self.db.transaction() as session:
            if error is None:
                dead = False
                held = await service.mark_done(session, job, self.worker_id)
            else:
                outcome = await service.mark_failed(
                    session,
                    job,
                    self.worker_id,
                    error,
                    permanent=permanent,
                    settings_fault=settings_fault,
                    base_delay=self.backoff_base,
                )
                held, dead = outcome is not None, bool(outcome)
                log.warning("outbox job %s (%s) failed: %s", job.id, job.kind, error)
            # A worker whose lease ran out lost the job to another: that one records the outcome.
            if handler is not None and held:
                await handler.record(
                    session,
                    job,
                    error=error,
                    reason=reason if error is not None else None,
                    dead=dead,
                    external_id=external_id,
                )

    async def run_forever(self) -> None:
        listener = asyncio.create_task(self._listen()) if self.bus else None
        try:
            while True:
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("outbox worker loop failed; retrying")
                    handled = 0
                if handled:
                    continue
                self._wake.clear()
                # asyncio.timeout, not wait_for: a stop (cancel) landing as the wake-up
                # does must still stop the worker (3.11's wait_for loses it).
                with suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
        finally:
            if listener:
                listener.cancel()
                with suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        assert self.bus is not None
        while True:
            try:
                async with self.bus.subscribe(service.OUTBOX_TOPIC) as events:
                    async for _ in events:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox wake-up listener lost its bus; polling only for a while")
                await asyncio.sleep(5)
