"""A chat ended for a follow-up: how its answer reaches the customer; asking for an address."""

from __future__ import annotations

import time

from sqlalchemy import select

from tests.channels.webchat.conftest import (
    ChatServer,
    Client,
    SiteInfo,
    customer,
    online_agent,
    signed,
)
from tests.conftest import make_agent, unique
from walletdesk.core.actors import SYSTEM
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.contacts.service import SenderIdentity, resolve_contact
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets.models import DeliveryStatus, Message, Ticket
from walletdesk.core.tickets.queries import get_ticket
from walletdesk.core.tickets.service import post_agent_message
from walletdesk.db import Database
from walletdesk.runtime import outbox_handlers


async def _identities(db: Database, number: str) -> set[tuple[str, str]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(ContactIdentity.kind, ContactIdentity.value)
            .join(Ticket, Ticket.contact_id == ContactIdentity.contact_id)
            .where(Ticket.number == number)
        )
        return {(kind, value) for kind, value in rows}


async def _ended_by_agent(
    chat: ChatServer, db: Database, site: SiteInfo, **hello: object
) -> tuple[Client, dict[str, object], dict[str, object], dict[str, object]]:
    """A chat the agent ended with follow_up=true: (client, welcome, ack, ended frame)."""
    login = await make_agent(db, "agent", 1)
    agent, _ = await online_agent(chat, login)
    client, welcome = await customer(chat, site, **hello)
    await client.send(type="message", id="m1", text="需要查一下银行流水")
    ack = await client.expect("ack", id="m1")
    await agent.send(type="accept", conversation=welcome["conversation"])
    await agent.expect("conversation")
    await agent.send(type="end", conversation=welcome["conversation"], follow_up=True)
    ended = await client.expect("ended")
    await agent.close()
    return client, welcome, ack, ended


async def test_contact_frame_adds_an_address_to_the_chats_contact(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, _welcome = await customer(chat, site)
    await client.send(type="contact", email="early@example.com")
    assert (await client.expect("error"))["code"] == "no_conversation"
    await client.send(type="message", id="m1", text="转账失败")
    ack = await client.expect("ack", id="m1")

    await client.send(type="contact", name="李雷")
    nothing = await client.expect("error")
    assert nothing["code"] == "bad_field" and nothing["fatal"] is False
    await client.send(type="contact", email="not-an-email")
    bad = await client.expect("error")
    assert (bad["code"], bad["field"]) == ("bad_field", "email")
    await client.send(type="contact", phone="12")
    assert (await client.expect("error"))["code"] == "bad_field"
    assert not {k for k, _ in await _identities(db, ack["ticket"])} & {"email", "phone"}

    # An address another contact already has is not moved over (contacts are core's to
    # merge): nothing changes here, and the answer says so.
    taken = f"{unique('taken')}@example.com"
    async with db.transaction() as session:
        await resolve_contact(session, SenderIdentity("email", taken))
    await client.send(type="contact", email=taken)
    assert (await client.expect("contact_saved"))["answer_by"] is None

    phone = f"+86139{time.time_ns() % 10**8:08d}"
    await client.send(type="contact", phone=phone)
    assert (await client.expect("contact_saved"))["answer_by"] == "phone"
    address = unique("LiLei") + "@Example.com"
    await client.send(type="contact", email=address)
    assert (await client.expect("contact_saved"))["answer_by"] == "email"
    found = await _identities(db, ack["ticket"])
    assert {("email", address.lower()), ("phone", phone)} <= found
    # The chat goes on.
    await client.send(type="message", id="m2", text="好的")
    await client.expect("ack", id="m2")
    await client.close()


async def test_follow_up_says_how_the_answer_comes(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome, ack, ended = await _ended_by_agent(chat, db, site)
    # An anonymous visitor left no address: nothing may promise an email.
    assert ended["follow_up"] is True and ended["answer_by"] is None
    assert ended["ticket"] == ack["ticket"]

    # After a reload the widget still knows (it asks again).
    _, back = await customer(chat, site, token=welcome["token"])
    assert (back["status"], back["follow_up"], back["answer_by"]) == ("ended", True, None)

    # Allowed after the end: that is when the widget asks.
    await client.send(type="contact", email=f"{unique('wang')}@example.com")
    assert (await client.expect("contact_saved"))["answer_by"] == "email"
    _, again = await customer(chat, site, token=welcome["token"])
    assert (again["follow_up"], again["answer_by"]) == (True, "email")
    await client.close()


async def test_signed_user_with_an_email_is_answered_by_email(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    identity = signed(site, unique("u_follow"), email=f"{unique('follow')}@example.com")
    client, _welcome, _ack, ended = await _ended_by_agent(chat, db, site, identity=identity)
    assert ended["answer_by"] == "email"
    await client.close()


async def test_reply_after_an_ended_chat_without_address_fails_visibly(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, _welcome, ack, ended = await _ended_by_agent(chat, db, site)
    assert ended["answer_by"] is None
    async with db.transaction() as session:
        ticket = await get_ticket(session, SYSTEM, str(ack["ticket"]), for_update=True)
        reply = await post_agent_message(
            session, SYSTEM, ticket, body="流水已查到，请查收", internal=False
        )
        reply_id = reply.id
    worker = OutboxWorker(db, outbox_handlers(chat.runtime))
    status = None
    for _ in range(20):  # other tests may have left jobs due too
        await worker.run_once()
        async with db.transaction() as session:
            stored = await session.get(Message, reply_id)
            assert stored is not None
            status, error = stored.delivery_status, stored.delivery_error
        if status != DeliveryStatus.PENDING:
            break
    # Not "sent" to nobody: the agent sees why on the ticket.
    assert status == DeliveryStatus.FAILED
    assert error is not None and "no email address for this contact" in error
    # Still published to the chat, for a customer who is looking at it.
    await client.expect_message("流水已查到，请查收")
    await client.close()
