from __future__ import annotations

import re

import httpx

from tests.conftest import make_agent, unique
from tests.console.conftest import escalate_to, open_ticket, post_form, sign_in
from walletdesk.core.contacts.service import SenderIdentity, resolve_contact
from walletdesk.core.tickets.intake import open_ticket as open_ticket_row
from walletdesk.core.tickets.queries import PAGE_SIZE
from walletdesk.db import Database

_NUMBERS = re.compile(r'<a class="mono" href="/console/tickets/(\d+)">')


def numbers_on(html: str) -> list[str]:
    return _NUMBERS.findall(html)


async def test_filters(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", 1)
    word = unique("kiwi").replace("-", "x")  # core folds digit-dash-digit in q
    chat = await open_ticket(db, subject=f"{word} payment stuck", channel="webchat")
    mail = await open_ticket(db, subject=f"{word} card binding", channel="email")
    upper = await open_ticket(db, subject=f"{word} escalated", channel="email")
    await escalate_to(db, upper.ticket_number, 2)
    csrf = await sign_in(client, agent)
    await post_form(
        client, f"/console/tickets/{mail.ticket_number}/update", csrf, assignee=str(agent.agent.id)
    )
    await post_form(client, f"/console/tickets/{chat.ticket_number}/update", csrf, status="solved")

    async def shown(query: str) -> set[str]:
        response = await client.get(f"/console/?q={word}&{query}")
        assert response.status_code == 200, response.text
        return set(numbers_on(response.text))

    # Active by default; an L1 agent never sees the L2 ticket.
    assert await shown("") == {mail.ticket_number}
    assert await shown("status=solved") == {chat.ticket_number}
    assert await shown("status=any") == {chat.ticket_number, mail.ticket_number}
    assert await shown("status=any&channel=webchat") == {chat.ticket_number}
    assert await shown("status=any&assignee=mine") == {mail.ticket_number}
    assert await shown("status=any&assignee=unassigned") == {chat.ticket_number}
    by_number = await client.get(f"/console/?status=any&q={chat.ticket_number}")
    assert numbers_on(by_number.text) == [chat.ticket_number]
    # The tier filter is for supervisors; an agent asking for another tier is refused.
    assert (await client.get("/console/?tier=2")).status_code == 403
    assert (await client.get("/console/?status=bogus")).status_code == 400
    assert (await client.get("/console/?cursor=not-a-cursor")).status_code == 400

    client.cookies.clear()
    await sign_in(client, await make_agent(db, "supervisor", 1))
    assert await shown("tier=2") == {upper.ticket_number}
    assert await shown("status=any") == {
        chat.ticket_number,
        mail.ticket_number,
        upper.ticket_number,
    }


async def test_the_cursor_pages_through_older_tickets(
    client: httpx.AsyncClient, db: Database
) -> None:
    agent = await make_agent(db, "agent", 1)
    word = unique("plum").replace("-", "x")
    async with db.transaction() as session:
        contact_id = await resolve_contact(session, SenderIdentity("email", f"{word}@example.com"))
        for index in range(PAGE_SIZE + 3):
            await open_ticket_row(
                session, contact_id=contact_id, channel="webchat", subject=f"{word} {index}"
            )
    await sign_in(client, agent)
    first = await client.get(f"/console/?q={word}")
    first_numbers = numbers_on(first.text)
    assert len(first_numbers) == PAGE_SIZE
    older = re.search(r'<a class="button ghost" href="([^"]+)" rel="next">', first.text)
    assert older is not None
    older_url = older.group(1).replace("&amp;", "&")
    assert "cursor=" in older_url and f"q={word}" in older_url
    second = await client.get(older_url)
    second_numbers = numbers_on(second.text)
    assert len(second_numbers) == 3
    assert not set(first_numbers) & set(second_numbers)
    assert 'rel="next"' not in second.text
    assert f"{word}@example.com" in first.text  # the customer column
