from __future__ import annotations

import httpx

from tests.conftest import make_agent
from tests.console.conftest import load_ticket, open_ticket, sign_in
from walletdesk.core.tickets.queries import ticket_messages
from walletdesk.db import Database


async def test_forms_without_the_session_token_change_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    agent = await make_agent(db)
    ticket = await open_ticket(db)
    await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"
    attempts = [
        (f"{url}/reply", {"body": "forged reply", "mode": "reply"}),
        (f"{url}/reply", {"body": "forged reply", "mode": "reply", "csrf": "guessed"}),
        (f"{url}/update", {"priority": "urgent", "csrf": ""}),
        (f"{url}/escalate", {"reason": "forged"}),
        ("/console/me/locale", {"locale": "zh-CN"}),
    ]
    for target, data in attempts:
        response = await client.post(target, data=data)
        assert response.status_code == 403, target
        assert "Nothing was changed" in response.text
    state = await load_ticket(db, ticket.ticket_number)
    async with db.transaction() as session:
        messages = await ticket_messages(session, state.id)
    assert (state.priority, state.tier, len(messages)) == ("normal", 1, 1)
    assert "Inbox" in (await client.get("/console/")).text  # locale unchanged (en)


async def test_login_form_needs_its_token_too(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db)
    response = await client.post(
        "/console/login", data={"email": agent.agent.email, "password": agent.password}
    )
    assert response.status_code == 403
    assert (await client.get("/console/")).status_code == 303
