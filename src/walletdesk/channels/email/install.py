"""Plugging the email channel into a node: adapter, ack jobs, SMTP listener, IMAP poller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)


@asynccontextmanager
async def smtp_listener(runtime: Runtime) -> AsyncIterator[None]:
    """The built-in SMTP server for the life of a `serve` node (off when SMTP_LISTEN is empty)."""
    from walletdesk.channels.email.smtp_server import start_smtp_server

    server = await start_smtp_server(runtime)
    try:
        yield
    finally:
        if server is not None:
            await server.close()


@asynccontextmanager
async def embedded_imap_poller(runtime: Runtime) -> AsyncIterator[None]:
    """`serve`'s embedded worker polls the IMAP mailbox too, as `walletdesk worker` does.

    Otherwise a one-process install with WALLETDESK_IMAP_URL set would never read its
    mailbox. Several nodes (or a node and workers) polling is safe: the mailbox lease lets
    one at a time in.
    """
    from walletdesk.channels.email.adapter import email_settings_of
    from walletdesk.channels.email.imap import run_imap_poller

    settings = email_settings_of(runtime)
    task: asyncio.Task[None] | None = None
    if settings.imap_url and runtime.settings.embedded_worker:
        task = asyncio.create_task(run_imap_poller(runtime, settings), name="imap-poller")
    elif settings.imap_url:
        # Where web nodes leave delivery to `walletdesk worker` processes, those poll.
        log.info(
            "WALLETDESK_IMAP_URL is set but WALLETDESK_EMBEDDED_WORKER is off: this node does "
            "not poll the mailbox; `walletdesk worker` does"
        )
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def install(runtime: Runtime) -> None:
    from walletdesk.channels.email.adapter import EmailAdapter
    from walletdesk.channels.email.imap import run_imap_poller
    from walletdesk.channels.email.jobs import email_job_handlers

    runtime.channels.register(EmailAdapter(runtime))
    runtime.job_handlers.update(email_job_handlers(runtime))
    runtime.node_services.extend((smtp_listener, embedded_imap_poller))
    runtime.worker_tasks.append(run_imap_poller)
