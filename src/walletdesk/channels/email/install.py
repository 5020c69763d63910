"""Plugging the email channel into a node: adapter, ack jobs, SMTP listener, IMAP poller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime


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


def install(runtime: Runtime) -> None:
    from walletdesk.channels.email.adapter import EmailAdapter
    from walletdesk.channels.email.imap import run_imap_poller
    from walletdesk.channels.email.jobs import email_job_handlers

    runtime.channels.register(EmailAdapter(runtime))
    runtime.job_handlers.update(email_job_handlers(runtime))
    runtime.node_services.append(smtp_listener)
    runtime.worker_tasks.append(run_imap_poller)
