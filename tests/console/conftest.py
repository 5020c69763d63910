"""Console test helpers: signing in through the real forms, tickets made by ingest and services,
and a real uvicorn server on a free port for the live-event and browser tests."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import AgentLogin, unique
from walletdesk.app import create_app
from walletdesk.core.actors import SYSTEM
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.tickets.models import Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import escalate_ticket
from walletdesk.db import Database
from walletdesk.runtime import Runtime

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, login: AgentLogin) -> str:
    """Sign in through the login form; returns the session's CSRF token for later forms."""
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={
            "csrf": csrf_in(page.text),
            "email": login.agent.email,
            "password": login.password,
            "next": "/console/",
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"
    inbox = await client.get("/console/")
    assert inbox.status_code == 200
    return csrf_in(inbox.text)


async def post_form(
    client: httpx.AsyncClient, url: str, csrf: str, **fields: str
) -> httpx.Response:
    return await client.post(url, data={"csrf": csrf, **fields})


async def open_ticket(
    db: Database,
    *,
    subject: str = "",
    text: str = "我的转账还没到账",
    email: str | None = None,
    channel: str = "webchat",
) -> IngestResult:
    """A customer writes in through ingest(), as a channel adapter would."""
    inbound = InboundMessage(
        channel=channel,
        external_id=unique("ext"),
        sender=SenderIdentity("email", email or f"{unique('customer')}@example.com"),
        text=text,
        subject=subject or unique("Subject "),
    )
    return await ingest(db, inbound, open_new=True)


async def escalate_to(db: Database, number: str, tier: int) -> None:
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, number, for_update=True)
        while ticket.tier < tier:
            await escalate_ticket(session, SYSTEM, ticket, "test setup")


async def load_ticket(db: Database, number: str) -> Ticket:
    async with db.transaction() as session:
        return await get_ticket(session, SYSTEM, number)


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    app: FastAPI


@pytest.fixture
async def live_server(runtime: Runtime) -> AsyncIterator[LiveServer]:
    """The real app on uvicorn, on a port the OS picked, in this test's event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(runtime=runtime)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", runtime, app)
    finally:
        server.should_exit = True
        await task
        sock.close()
