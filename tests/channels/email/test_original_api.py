"""The original of an email over the API: for agents who may see the ticket, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tests.channels.email.conftest import messages_of, new_address, new_message_id, ticket_of
from tests.channels.email.mail import text_email
from tests.conftest import make_agent
from walletdesk.app import create_app
from walletdesk.channels.email.inbound import receive
from walletdesk.channels.email.routes import router
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.audit.models import AuditEvent
from walletdesk.runtime import Runtime


@pytest.fixture
async def api(email_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=email_runtime)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_full_original_is_viewable_and_the_view_audited(
    email_runtime: Runtime, email_settings: EmailSettings, api: httpx.AsyncClient
) -> None:
    message_id = new_message_id()
    body = "新的问题\n\n在 2026年11月26日 周四 10:02,客服 写道:\n> 旧的回答"
    raw = text_email(sender=new_address(), message_id=message_id, subject="问题", body=body)
    await receive(email_runtime, email_settings, raw)
    ticket = await ticket_of(email_runtime, message_id)
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "新的问题"

    agent = await make_agent(email_runtime.db, "agent", 1)
    shown = await api.get(f"/api/v1/email/messages/{message.id}/original", headers=agent.headers)
    assert shown.status_code == 200
    original = shown.json()
    assert original["full_text"] == body
    assert original["ticket_number"] == ticket.number
    assert original["authentication"]["suspicious"] is False

    eml = await api.get(f"/api/v1/email/messages/{message.id}/original.eml", headers=agent.headers)
    assert eml.content == raw
    assert eml.headers["content-disposition"].startswith("attachment")
    assert eml.headers["content-type"] == "application/octet-stream"

    async with email_runtime.db.transaction() as session:
        views = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "email.original_viewed",
                    AuditEvent.target_id == str(message.id),
                )
            )
        ).all()
    assert len(views) == 2


async def test_another_tiers_agent_is_refused(
    email_runtime: Runtime, email_settings: EmailSettings, api: httpx.AsyncClient
) -> None:
    message_id = new_message_id()
    await receive(
        email_runtime, email_settings, text_email(sender=new_address(), message_id=message_id)
    )
    ticket = await ticket_of(email_runtime, message_id)
    [message] = await messages_of(email_runtime, ticket.id)
    outsider = await make_agent(email_runtime.db, "agent", 2)
    refused = await api.get(
        f"/api/v1/email/messages/{message.id}/original", headers=outsider.headers
    )
    assert refused.status_code == 403
    missing = await api.get("/api/v1/email/messages/999999999/original", headers=outsider.headers)
    assert missing.status_code == 404
