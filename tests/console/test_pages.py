"""Contact, audit log, agent administration and the agent's own settings."""

from __future__ import annotations

import re

import httpx
import pyotp

from tests.conftest import make_agent, unique
from tests.console.conftest import escalate_to, load_ticket, open_ticket, post_form, sign_in
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.service import get_agent_by_email, list_agents
from walletdesk.core.audit.service import list_events
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import TicketChanges, update_ticket
from walletdesk.db import Database


async def test_contact_page(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", 1)
    email = f"{unique('li.lei')}@example.com"
    first = await open_ticket(db, email=email, channel="webchat")
    second = await open_ticket(db, email=email, channel="email")
    hidden = await open_ticket(db, email=email, channel="email")
    await escalate_to(db, hidden.ticket_number, 2)
    contact_id = (await load_ticket(db, first.ticket_number)).contact_id

    await sign_in(client, agent)
    page = await client.get(f"/console/contacts/{contact_id}")
    assert page.status_code == 200
    assert email in page.text
    assert first.ticket_number in page.text and second.ticket_number in page.text
    assert hidden.ticket_number not in page.text  # another tier's ticket stays out of view
    async with db.transaction() as session:
        events = await list_events(session, SYSTEM, target_kind="contact", target_id=contact_id)
    assert [e.action for e in events][:1] == ["contact.viewed"]
    assert events[0].actor_id == agent.agent.id
    assert (await client.get("/console/contacts/999999999")).status_code == 404
    assert (await client.get("/console/contacts/abc")).status_code == 404


async def test_audit_log_is_for_supervisors(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", 1)
    supervisor = await make_agent(db, "supervisor", 1)
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    await post_form(
        client, f"/console/tickets/{ticket.ticket_number}/update", csrf, priority="high"
    )
    refused = await client.get("/console/audit")
    assert refused.status_code == 403
    assert "Only supervisors and administrators" in refused.text
    assert ">Audit log</a>" not in refused.text  # not in the agent's navigation

    client.cookies.clear()
    await sign_in(client, supervisor)
    page = await client.get(f"/console/audit?ticket={ticket.ticket_number}")
    assert page.status_code == 200
    assert "Priority changed" in page.text
    assert agent.agent.name in page.text
    assert (await client.get("/console/audit?before=x")).status_code == 400

    async with db.transaction() as session:
        row = await get_ticket(session, SYSTEM, ticket.ticket_number, for_update=True)
        for index in range(55):
            priority = "low" if index % 2 else "urgent"
            await update_ticket(session, SYSTEM, row, TicketChanges(priority=priority))
    first = await client.get(f"/console/audit?ticket={ticket.ticket_number}")
    assert first.text.count('data-label="When"') == 50
    older = re.search(r'href="(/console/audit\?ticket=\d+&amp;before=\d+)"', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('data-label="When"') == 6  # 55 + the agent's change


async def test_admin_creates_agents(client: httpx.AsyncClient, db: Database) -> None:
    admin = await make_agent(db, "admin", 3)
    supervisor = await make_agent(db, "supervisor", 1)
    email = f"{unique('new')}@walletdesk.test"
    csrf = await sign_in(client, admin)
    created = await post_form(
        client,
        "/console/admin/agents",
        csrf,
        email=email,
        name="王芳",
        role="agent",
        tier="2",
        locale="zh-CN",
        password="a long enough password",
    )
    assert created.status_code == 303
    listing = await client.get("/console/admin/agents")
    assert "王芳" in listing.text
    async with db.transaction() as session:
        agent = await get_agent_by_email(session, email)
    assert (agent.role, agent.tier, agent.locale) == ("agent", 2, "zh-CN")

    again = await post_form(
        client,
        "/console/admin/agents",
        csrf,
        email=email,
        name="Someone",
        role="agent",
        tier="1",
        locale="en",
        password="a long enough password",
    )
    assert again.status_code == 422
    assert "already exists" in again.text
    assert 'value="Someone"' in again.text  # what was typed stays in the form

    client.cookies.clear()
    csrf = await sign_in(client, supervisor)
    assert (await client.get("/console/admin/agents")).status_code == 403
    before = len(await _agents(db))
    refused = await post_form(
        client,
        "/console/admin/agents",
        csrf,
        email=f"{unique('x')}@walletdesk.test",
        name="X",
        role="admin",
        tier="1",
        locale="en",
        password="a long enough password",
    )
    assert refused.status_code == 403
    assert len(await _agents(db)) == before


async def _agents(db: Database) -> list[str]:
    async with db.transaction() as session:
        return [a.email for a in await list_agents(session)]


async def test_me_language_presence_and_totp(client: httpx.AsyncClient, db: Database) -> None:
    login = await make_agent(db, "agent", 1, locale="en")
    csrf = await sign_in(client, login)
    switched = await post_form(client, "/console/me/locale", csrf, locale="zh-CN", back="/console/")
    assert switched.headers["location"] == "/console/"
    assert "收件箱" in (await client.get("/console/")).text
    await post_form(client, "/console/me/presence", csrf, presence="away", back="/console/me")

    page = await client.get("/console/me")
    secret = re.search(r'<dd class="mono secret">([A-Z2-7]+)</dd>', page.text)
    assert secret is not None
    assert "otpauth://totp/WalletDesk:" in page.text
    enrolment = re.search(r'name="enrolment" value="([^"]+)"', page.text)
    assert enrolment is not None
    wrong = await post_form(
        client, "/console/me/totp", csrf, enrolment=enrolment.group(1), code="000000"
    )
    assert wrong.status_code == 422
    assert secret.group(1) in wrong.text  # the same key, so the app need not be set up twice
    right = await post_form(
        client,
        "/console/me/totp",
        csrf,
        enrolment=enrolment.group(1),
        code=pyotp.TOTP(secret.group(1)).now(),
    )
    assert right.status_code == 303
    async with db.transaction() as session:
        agent = await get_agent_by_email(session, login.agent.email)
    assert (agent.locale, agent.presence, agent.totp_secret) == ("zh-CN", "away", secret.group(1))
