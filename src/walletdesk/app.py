"""The ASGI app factory: mounts each module's routers on one FastAPI app."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from walletdesk.channels.webchat.router import router as webchat_router
from walletdesk.core.attachments.routes import router as attachments_router
from walletdesk.core.contacts.routes import router as contacts_router
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.routes import router as tickets_router
from walletdesk.helpcenter.routes import router as helpcenter_router
from walletdesk.http.errors import install_error_handlers
from walletdesk.runtime import Runtime, build_runtime, outbox_handlers
from walletdesk.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Collection thresholds of a serving process (CPython's default is 700, 10, 10). The third
# is out of reach on purpose: full collections run on a clock instead (collect_fully_every).
SERVING_GC_THRESHOLDS = (2000, 1, 1_000_000)


def settle_garbage_collector() -> None:
    """Spare a serving process the long pauses of full collections.

    Everything loaded at start-up (modules, ORM and pydantic models, dictionaries) lives
    as long as the process, yet every full collection walked it again: with 1,000 live
    chats that meant 200–600 ms pauses, the whole p99 of bench/chat.py. Frozen, it is
    skipped. Long-lived connections still make a full collection cost 0.2–0.7 s at 2,000
    chats, so instead of whenever allocations add up (several times a minute under load)
    it runs every `gc_full_collection_seconds`. The middle generation is collected after
    every young one (threshold 1, not 10): a chat's waiting futures and frames live for
    seconds, so they pile up there, and ten young collections' worth made 30–50 ms pauses
    at 500 messages/s; collected each time they stay under ~6 ms, for the same total
    work (each object is still looked at once per generation). Only `walletdesk serve` does this
    (create_served_app): frozen objects are never freed, which a test process building
    hundreds of apps must not suffer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


async def collect_fully_every(seconds: float) -> None:
    """Reference cycles left by closed connections are freed here, once per period."""
    while True:
        await asyncio.sleep(seconds)
        gc.collect()


def create_served_app() -> FastAPI:
    """The app as `walletdesk serve` runs it: create_app() plus process-wide tuning."""
    app = create_app()
    app.state.serving = True
    return app


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Pass a runtime to share one (tests); otherwise one is built from settings."""
    settings = settings or (runtime.settings if runtime else get_settings())
    owns_runtime = runtime is None
    the_runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker_task = None
        services = AsyncExitStack()
        for service in the_runtime.node_services:
            await services.enter_async_context(service(the_runtime))
        if settings.embedded_worker:
            worker = OutboxWorker(
                the_runtime.db,
                outbox_handlers(the_runtime),
                bus=the_runtime.bus,
            )
            worker_task = asyncio.create_task(worker.run_forever(), name="outbox-worker")
        collector = None
        if getattr(app.state, "serving", False):
            settle_garbage_collector()
            collector = asyncio.create_task(
                collect_fully_every(settings.gc_full_collection_seconds), name="gc"
            )
        try:
            yield
        finally:
            if collector:
                collector.cancel()
            if worker_task:
                worker_task.cancel()
                with suppress(asyncio.CancelledError):
                    await worker_task
            await services.aclose()
            if owns_runtime:
                await the_runtime.close()

    app = FastAPI(
        title="WalletDesk API",
        version="1",
        description="Tickets, contacts and messages of WalletDesk, for integrations.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = the_runtime
    install_error_handlers(app)
    app.include_router(tickets_router)
    app.include_router(contacts_router)
    app.include_router(attachments_router)
    app.include_router(webchat_router)
    app.include_router(helpcenter_router)
    _mount_console(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/robots.txt", include_in_schema=False)
    async def robots() -> PlainTextResponse:
        """Crawlers may read the help center; the console, the API and the chat are not theirs."""
        return PlainTextResponse(
            "User-agent: *\nAllow: /help/\nDisallow: /console/\nDisallow: /api/\n"
            f"Disallow: /webchat/\nSitemap: {settings.base_url.rstrip('/')}/help/sitemap.xml\n"
        )

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz() -> Any:
        """The database (and Redis, when configured) answer."""
        checks: dict[str, str] = {}
        ready = True
        try:
            async with the_runtime.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            ready, checks["database"] = False, f"unreachable: {type(exc).__name__}"
        if settings.redis_url:
            try:
                await the_runtime.bus.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                ready, checks["redis"] = False, f"unreachable: {type(exc).__name__}"
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app


def _mount_console(app: FastAPI) -> None:
    from walletdesk.console.app import mount_console

    mount_console(app)
