"""Which SQL one ticket creation sends: every statement, transaction and pool checkout."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _corpus
import httpx
from sqlalchemy import event

from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest
from walletdesk.db import Database


@dataclass
class Trace:
    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def round_trips(self) -> int:
        # BEGIN and COMMIT are one round trip each on asyncpg; a checkout pings (pool_pre_ping).
        return len(self.statements) + 2 * (self.commits + self.rollbacks) + self.checkouts

    def report(self, title: str, pre_ping: bool) -> str:
        lines = [
            f"{title}: {len(self.statements)} statements in {self.commits} transactions, "
            f"{self.checkouts} pool checkouts"
            + (
                f" (each pinged: pool_pre_ping) ≈ {self.round_trips} round trips"
                if pre_ping
                else ""
            )
        ]
        for statement in self.statements:
            lines.append("    " + " ".join(statement.split())[:110])
        return "\n".join(lines)


@contextmanager
def tracing(db: Database) -> Iterator[Trace]:
    trace = Trace()
    engine = db.engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        trace.statements.append(statement)

    def on_checkout(*_: Any) -> None:
        trace.checkouts += 1

    def on_commit(*_: Any) -> None:
        trace.commits += 1

    def on_rollback(*_: Any) -> None:
        trace.rollbacks += 1

    hooks = [
        (engine, "before_cursor_execute", on_execute),
        (engine.pool, "checkout", on_checkout),
        (engine, "commit", on_commit),
        (engine, "rollback", on_rollback),
    ]
    for target, name, fn in hooks:
        event.listen(target, name, fn)
    try:
        yield trace
    finally:
        for target, name, fn in hooks:
            event.remove(target, name, fn)


async def trace_one_ticket(url: str, workdir: Path) -> str:
    """One ingest of a new ticket, one follow-up, one POST /api/v1/tickets (in-process ASGI)."""
    from walletdesk.app import create_app
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.agents.service import create_agent, create_api_token
    from walletdesk.runtime import build_runtime
    from walletdesk.settings import Settings

    rng = random.Random(7)
    settings = Settings(
        data_dir=workdir,
        database_url=url,
        secret_key=secrets.token_urlsafe(32),
        embedded_worker=False,
        _env_file=None,
    )
    runtime = build_runtime(settings)  # no Redis URL: the in-process event bus
    db = runtime.db
    pre_ping = bool(getattr(db.engine.pool, "_pre_ping", False))
    out = []
    try:
        async with db.transaction() as session:
            agent = await create_agent(
                session,
                SYSTEM,
                email=f"trace-{uuid.uuid4().hex[:8]}@walletdesk.test",
                name="Trace",
                role="agent",
            )
            _, token = await create_api_token(session, SYSTEM, agent, "trace")

        def inbound(i: int, text: str, thread: bool = True) -> InboundMessage:
            key = f"<trace.{uuid.uuid4().hex}.{i}@mail.example.com>"
            return InboundMessage(
                channel="email",
                external_id=key,
                sender=SenderIdentity("email", f"trace{i}@example.com"),
                thread_key=key if thread else None,
                subject=_corpus.subject(rng),
                text=text,
            )

        await ingest(db, inbound(0, _corpus.body(rng)))  # warm caches (team, counter, compiled SQL)
        with tracing(db) as trace:
            first = await ingest(db, inbound(1, _corpus.body(rng)))
        out.append(trace.report("ingest, new ticket (new customer)", pre_ping))
        with tracing(db) as trace:
            await ingest(db, inbound(1, f"补充：工单 {first.ticket_number} 还没处理", thread=False))
        out.append(trace.report("ingest, follow-up quoting the number", pre_ping))

        app = create_app(runtime=runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}"}

            def payload(i: int) -> dict[str, Any]:
                return {
                    "subject": _corpus.subject(rng),
                    "body": _corpus.body(rng),
                    "customer": {"email": f"trace-api{i}@example.com", "phone": _corpus.phone(rng)},
                }

            await client.post("/api/v1/tickets", json=payload(0), headers=headers)
            with tracing(db) as trace:
                response = await client.post("/api/v1/tickets", json=payload(1), headers=headers)
            assert response.status_code == 201, response.text
        out.append(trace.report("POST /api/v1/tickets (email + phone)", pre_ping))
    finally:
        await runtime.close()
    return "\n\n".join(out)
