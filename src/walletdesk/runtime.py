"""What a running node holds: settings, database, event bus and channel adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from walletdesk.core.attachments.storage import AttachmentStore, LocalFileStore
from walletdesk.core.channels import ChannelRegistry
from walletdesk.core.events import EventBus, make_event_bus
from walletdesk.core.ingest import IngestQueue
from walletdesk.core.outbox.worker import JobHandler
from walletdesk.db import Database
from walletdesk.settings import Settings

NodeService = Callable[["Runtime"], AbstractAsyncContextManager[None]]
WorkerTask = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    files: AttachmentStore
    channels: ChannelRegistry = field(default_factory=ChannelRegistry)
    # What channels plug in besides their adapter, so app.py and cli.py never name a channel:
    # outbox job kinds of their own, services every `serve` node runs (an SMTP listener),
    # and loops every `walletdesk worker` runs beside the outbox worker (an IMAP poller).
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    node_services: list[NodeService] = field(default_factory=list)
    worker_tasks: list[WorkerTask] = field(default_factory=list)
    # Where the busy channels (API, email, chat) hand in customers' messages: ingest() with
    # group commit.
    intake: IngestQueue = field(init=False)

    def __post_init__(self) -> None:
        self.intake = IngestQueue(self.db, self.files)

    async def close(self) -> None:
        await self.intake.close()
        await self.bus.close()
        await self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    from walletdesk.channels import install_channels

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bus = make_event_bus(settings.redis_url)
    runtime = Runtime(
        settings=settings,
        db=Database(
            settings.resolved_database_url, bus=bus, pool_pre_ping=settings.db_pool_pre_ping
        ),
        bus=bus,
        files=LocalFileStore(settings.data_dir / "attachments"),
    )
    install_channels(runtime)
    return runtime


def outbox_handlers(runtime: Runtime) -> dict[str, JobHandler]:
    from walletdesk.core.tickets.service import DELIVER_MESSAGE
    from walletdesk.core.tickets.tasks import DeliverMessage

    return {DELIVER_MESSAGE: DeliverMessage(runtime.db, runtime.channels), **runtime.job_handlers}
