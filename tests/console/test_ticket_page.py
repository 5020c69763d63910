from __future__ import annotations

import httpx

from tests.conftest import make_agent
from tests.console.conftest import escalate_to, load_ticket, open_ticket, post_form, sign_in
from walletdesk.core.actors import SYSTEM
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest
from walletdesk.core.tickets.models import Category, Priority
from walletdesk.core.tickets.queries import get_ticket, ticket_messages, ticket_tag_names
from walletdesk.core.tickets.service import TicketChanges, update_ticket
from walletdesk.db import Database


async def test_tiers_are_enforced_by_url(client: httpx.AsyncClient, db: Database) -> None:
    l1 = await make_agent(db, "agent", 1)
    supervisor = await make_agent(db, "supervisor", 1)
    ticket = await open_ticket(db)
    await escalate_to(db, ticket.ticket_number, 2)

    await sign_in(client, l1)
    refused = await client.get(f"/console/tickets/{ticket.ticket_number}")
    assert refused.status_code == 403
    assert "in another tier&#39;s queue" in refused.text
    missing = await client.get("/console/tickets/1234567890")
    assert missing.status_code == 404
    assert (await client.get("/console/tickets/%3Cscript%3E")).status_code == 404

    client.cookies.clear()
    await sign_in(client, supervisor)
    allowed = await client.get(f"/console/tickets/{ticket.ticket_number}")
    assert allowed.status_code == 200
    assert ticket.ticket_number in allowed.text


async def test_conversation_marks_notes_and_foreign_senders(
    client: httpx.AsyncClient, db: Database
) -> None:
    agent = await make_agent(db)
    ticket = await open_ticket(db, text="<b>hello</b> {{ 7*7 }}")
    # Someone else quotes the ticket number: stored on the ticket, flagged as a mismatch.
    await ingest(
        db,
        InboundMessage(
            channel="email",
            external_id=f"mismatch-{ticket.ticket_number}",
            sender=SenderIdentity("email", f"other-{ticket.ticket_number}@example.com"),
            text=f"About ticket {ticket.ticket_number}: please refund me instead",
        ),
    )
    csrf = await sign_in(client, agent)
    await post_form(
        client,
        f"/console/tickets/{ticket.ticket_number}/reply",
        csrf,
        body="checking the ledger",
        mode="note",
    )
    page = await client.get(f"/console/tickets/{ticket.ticket_number}")
    assert "&lt;b&gt;hello&lt;/b&gt; {{ 7*7 }}" in page.text  # escaped, never a template
    assert "verify identity before acting" in page.text
    assert "Internal note — not sent to the customer" in page.text
    assert "checking the ledger" in page.text


async def test_reply_and_note_through_the_form(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db)
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"

    sent = await post_form(
        client, f"{url}/reply", csrf, body="已为您核查", mode="reply", status="pending"
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == url
    noted = await post_form(client, f"{url}/reply", csrf, body="ledger shows OK", mode="note")
    assert noted.status_code == 303
    page = await client.get(url)
    assert "Reply sent." in page.text
    assert "Internal note added." in page.text
    assert "Sending" in page.text  # the reply waits for the outbox worker
    assert "Reply sent." not in (await client.get(url)).text  # a flash shows once

    state = await load_ticket(db, ticket.ticket_number)
    async with db.transaction() as session:
        messages = await ticket_messages(session, state.id)
    agent_messages = [(m.body_text, m.internal) for m in messages if m.author_kind == "agent"]
    assert agent_messages == [("已为您核查", False), ("ledger shows OK", True)]
    assert state.status == "pending"


async def test_a_refused_reply_keeps_its_text(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db)
    ticket = await open_ticket(db)
    async with db.transaction() as session:
        row = await get_ticket(session, SYSTEM, ticket.ticket_number, for_update=True)
        await update_ticket(session, SYSTEM, row, TicketChanges(status="closed"))
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"
    refused = await post_form(client, f"{url}/reply", csrf, body="my careful answer", mode="reply")
    assert refused.status_code == 422
    assert "my careful answer</textarea>" in refused.text
    assert "the ticket is closed" in refused.text
    empty = await post_form(client, f"{url}/reply", csrf, body="   ", mode="note")
    assert empty.status_code == 422
    assert "Write a message first." in empty.text


async def test_side_panel_changes(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", 1)
    colleague = await make_agent(db, "agent", 1)
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"
    for fields in (
        {"priority": "urgent"},
        {"category": "payment_failed"},
        {"assignee": str(colleague.agent.id)},
        {"tags": "refund, VIP，  chargeback "},
        {"status": "on_hold"},
    ):
        response = await post_form(client, f"{url}/update", csrf, **fields)
        assert response.status_code == 303, fields
    state = await load_ticket(db, ticket.ticket_number)
    async with db.transaction() as session:
        tags = await ticket_tag_names(session, [state.id])
    assert (state.priority, state.category, state.status) == ("urgent", "payment_failed", "on_hold")
    assert state.assignee_id == colleague.agent.id
    assert tags[state.id] == ["chargeback", "refund", "vip"]

    await post_form(client, f"{url}/update", csrf, assignee="")
    assert (await load_ticket(db, ticket.ticket_number)).assignee_id is None
    bad = await post_form(client, f"{url}/update", csrf, status="new")
    assert bad.status_code == 303
    page = await client.get(url)
    assert "cannot go from on_hold to new" in page.text
    assert (await load_ticket(db, ticket.ticket_number)).status == "on_hold"


async def test_escalation(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", 1)
    supervisor = await make_agent(db, "supervisor", 1)
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"

    no_reason = await post_form(client, f"{url}/escalate", csrf, reason=" ")
    assert no_reason.headers["location"] == url
    assert "Say why the ticket needs a higher tier" in (await client.get(url)).text
    assert (await load_ticket(db, ticket.ticket_number)).tier == 1

    moved = await post_form(client, f"{url}/escalate", csrf, reason="ledger mismatch")
    # The ticket left the L1 agent's queue, so they go back to their inbox.
    assert moved.headers["location"] == "/console/"
    assert (await load_ticket(db, ticket.ticket_number)).tier == 2

    client.cookies.clear()
    csrf = await sign_in(client, supervisor)
    await post_form(client, f"{url}/escalate", csrf, reason="complaint to regulator")
    page = await client.get(url)
    assert (await load_ticket(db, ticket.ticket_number)).tier == 3
    assert "ledger mismatch" in page.text  # the escalation notes are in the conversation
    assert f'action="{url}/escalate"' not in page.text  # nothing above L3


async def test_side_panel_offers_every_priority_and_category_with_the_current_one_chosen(
    client: httpx.AsyncClient, db: Database
) -> None:
    agent = await make_agent(db, "agent", 1)
    ticket = await open_ticket(db)
    await sign_in(client, agent)
    page = (await client.get(f"/console/tickets/{ticket.ticket_number}")).text
    for name, values, current in (
        ("priority", [p.value for p in Priority], "normal"),
        ("category", [c.value for c in Category], "other"),
    ):
        select = page.split(f'<select name="{name}">', 1)[1].split("</select>", 1)[0]
        assert [v for v in values if f'value="{v}"' in select] == values
        assert f'value="{current}" selected' in select


async def test_an_undelivered_reply_says_why_in_the_agents_language(
    client: httpx.AsyncClient, db: Database
) -> None:
    from walletdesk.core.tickets.delivery import record_delivery

    agent = await make_agent(db, locale="zh-CN")
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"
    await post_form(client, f"{url}/reply", csrf, body="请查收退款", mode="reply")
    state = await load_ticket(db, ticket.ticket_number)
    async with db.transaction() as session:
        [reply] = [m for m in await ticket_messages(session, state.id) if m.author_kind == "agent"]
        await record_delivery(
            session,
            reply.id,
            error="the customer has no email address on file",
            reason="no_address",
            dead=True,
            external_id=None,
        )
    page = await client.get(url)
    assert "未送达" in page.text
    assert "客户在此渠道没有联系地址，请通过其他方式联系" in page.text
    assert "the customer has no email address on file" in page.text  # the detail, beside it


async def test_a_form_with_a_nul_character_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    # PostgreSQL cannot store a NUL; SQLite could, so both refuse it the same way.
    agent = await make_agent(db, locale="zh-CN")
    ticket = await open_ticket(db)
    csrf = await sign_in(client, agent)
    url = f"/console/tickets/{ticket.ticket_number}"
    refused = await post_form(client, f"{url}/reply", csrf, body="退款\x00已处理", mode="reply")
    assert refused.status_code == 400
    assert "表单中有无法保存的字符" in refused.text
    state = await load_ticket(db, ticket.ticket_number)
    async with db.transaction() as session:
        messages = await ticket_messages(session, state.id)
    assert [m for m in messages if m.author_kind == "agent"] == []
