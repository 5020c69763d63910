"""ingest(): idempotent, race-safe, one contact per person, the right ticket for every message."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.conftest import customer_email, make_ticket, unique, unique_phone
from walletdesk.core.actors import SYSTEM
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.models import Contact, ContactIdentity
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.tickets import queries, service
from walletdesk.core.tickets.models import Message, Status, Ticket
from walletdesk.db import Database

ROUNDS = 5


def _inbound(sender: SenderIdentity, **overrides: object) -> InboundMessage:
    values: dict[str, object] = {
        "channel": "email",
        "external_id": unique("<msg") + "@mail.example>",
        "sender": sender,
        "text": "我的转账还没到账",
    }
    values.update(overrides)
    return InboundMessage(**values)  # type: ignore[arg-type]


async def _count(db: Database, statement: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


async def _message(db: Database, message_id: int) -> Message:
    async with db.transaction() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def _ticket(db: Database, ticket_id: int) -> Ticket:
    async with db.transaction() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def test_a_redelivered_message_is_stored_once(db: Database) -> None:
    inbound = _inbound(customer_email())
    first = await ingest(db, inbound)
    again = await ingest(db, inbound)
    assert first.created_ticket and not first.duplicate
    assert again.duplicate and not again.created_ticket
    assert (again.ticket_id, again.message_id) == (first.ticket_id, first.message_id)


@pytest.mark.parametrize("thread_key", [None, "thread"])
async def test_one_message_delivered_twice_at_once_is_stored_once(
    db: Database, thread_key: str | None
) -> None:
    for _ in range(ROUNDS):
        sender = customer_email()
        # Round 1 of each sender is a new contact; round 2 an existing one with a ticket.
        for _second in range(2):
            inbound = _inbound(sender, thread_key=f"{unique(thread_key)}" if thread_key else None)
            a, b = await asyncio.gather(ingest(db, inbound), ingest(db, inbound))
            assert (a.ticket_id, a.message_id) == (b.ticket_id, b.message_id)
            assert [a.duplicate, b.duplicate].count(True) == 1
            stored = await _count(
                db,
                select(func.count())
                .select_from(Message)
                .where(Message.channel == "email", Message.external_id == inbound.external_id),
            )
            assert stored == 1
        value = sender.value.lower()
        contact_id = await _count(
            db, select(ContactIdentity.contact_id).where(ContactIdentity.value == value)
        )
        # The losing delivery left no ticket behind: one ticket per delivered message.
        tickets = await _count(
            db, select(func.count()).select_from(Ticket).where(Ticket.contact_id == contact_id)
        )
        assert tickets == 2


async def test_first_messages_racing_from_one_new_sender_make_one_contact(db: Database) -> None:
    for _ in range(ROUNDS):
        name = unique("Racer ")
        phone = unique_phone()
        senders = [SenderIdentity("phone", form, name) for form in (phone, f"+86 {phone}")]
        results: list[IngestResult] = await asyncio.gather(
            *(ingest(db, _inbound(sender, channel="phone")) for sender in senders * 2)
        )
        contacts = {(await _ticket(db, r.ticket_id)).contact_id for r in results}
        assert len(contacts) == 1
        assert len({r.message_id for r in results}) == 4
        named = await _count(
            db, select(func.count()).select_from(Contact).where(Contact.name == name)
        )
        assert named == 1


async def test_first_messages_racing_in_one_new_thread_open_one_ticket(db: Database) -> None:
    for _ in range(ROUNDS):
        sender = customer_email()
        thread = unique("chat-")
        results = await asyncio.gather(
            *(ingest(db, _inbound(sender, channel="webchat", thread_key=thread)) for _ in range(3))
        )
        assert len({r.ticket_id for r in results}) == 1
        assert [r.created_ticket for r in results].count(True) == 1
        assert len({r.message_id for r in results}) == 3


@pytest.mark.parametrize(
    ("stored_as", "forms"),
    [
        ("zhang.san{n}@example.com", ["Zhang.San{n}@Example.COM", "  zhang.san{n}@example.com "]),
        ("+86{phone}", ["{phone}", "+86 {p3} {p4} {p4b}", "(+86) {p3}-{p4}-{p4b}"]),
    ],
)
async def test_a_sender_is_one_contact_however_they_write_their_address(
    db: Database, stored_as: str, forms: list[str]
) -> None:
    phone = unique_phone()
    fill = {
        "n": unique(""),
        "phone": phone,
        "p3": phone[:3],
        "p4": phone[3:7],
        "p4b": phone[7:],
    }
    kind = "phone" if stored_as.startswith("+") else "email"
    results = [
        await ingest(db, _inbound(SenderIdentity(kind, form.format(**fill)), channel="api"))
        for form in forms
    ]
    contacts = {(await _ticket(db, r.ticket_id)).contact_id for r in results}
    assert len(contacts) == 1
    async with db.transaction() as session:
        values = (
            await session.scalars(
                select(ContactIdentity.value).where(ContactIdentity.contact_id == contacts.pop())
            )
        ).all()
    assert values == [stored_as.format(**fill)]


async def test_a_second_identity_given_with_a_message_joins_the_same_contact(
    db: Database,
) -> None:
    email = customer_email()
    phone = unique_phone()
    first = await ingest(
        db, _inbound(email, also_known_as=(SenderIdentity("phone", phone),), channel="api")
    )
    by_phone = await ingest(db, _inbound(SenderIdentity("phone", f"+86{phone}"), channel="api"))
    assert (await _ticket(db, first.ticket_id)).contact_id == (
        await _ticket(db, by_phone.ticket_id)
    ).contact_id


@pytest.mark.parametrize(
    ("sender", "field"),
    [
        (SenderIdentity("email", "not-an-email"), "email"),
        (SenderIdentity("phone", "12"), "phone"),
        (SenderIdentity("phone", "call me"), "phone"),
        (SenderIdentity("webchat", "  "), "webchat"),
    ],
)
async def test_a_sender_we_cannot_read_is_refused_and_nothing_is_stored(
    db: Database, sender: SenderIdentity, field: str
) -> None:
    inbound = _inbound(sender)
    with pytest.raises(InvalidInput) as refused:
        await ingest(db, inbound)
    assert refused.value.field == field
    stored = await _count(
        db,
        select(func.count()).select_from(Message).where(Message.external_id == inbound.external_id),
    )
    assert stored == 0


@pytest.mark.parametrize(
    ("inbound", "field"),
    [
        (_inbound(SenderIdentity("email", "a@example.com"), external_id=""), "external_id"),
        (_inbound(SenderIdentity("email", "a@example.com"), text="  \n "), "body"),
    ],
)
async def test_a_message_without_id_or_content_is_refused(
    db: Database, inbound: InboundMessage, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await ingest(db, inbound)
    assert refused.value.field == field


@pytest.mark.parametrize("where", ["text", "subject"])
async def test_a_quoted_ticket_number_finds_the_ticket(db: Database, where: str) -> None:
    sender = customer_email()
    opened = await make_ticket(db, sender=sender, channel="email", thread_key=unique("<t"))
    quote = {
        "text": {"text": f"我的工单号是 {opened.ticket_number}，请查一下"},
        "subject": {"subject": f"Re: [#{opened.ticket_number}] 转账没到账", "text": "还没到"},
    }[where]
    # A different thread (a new email, not a reply): the number alone finds the ticket.
    follow = await ingest(db, _inbound(sender, thread_key=unique("<other"), **quote))
    assert follow.ticket_id == opened.ticket_id and not follow.created_ticket
    assert not (await _message(db, follow.message_id)).sender_mismatch


async def test_the_thread_key_finds_the_ticket_and_a_new_thread_opens_one(db: Database) -> None:
    sender = customer_email()
    thread = unique("chat-")
    first = await make_ticket(db, sender=sender, channel="webchat", thread_key=thread)
    second = await make_ticket(db, sender=sender, channel="webchat", thread_key=thread, text="在吗")
    assert second.ticket_id == first.ticket_id and not second.created_ticket
    # The same key on another channel is another conversation.
    elsewhere = await make_ticket(db, sender=sender, channel="email", thread_key=thread)
    assert elsewhere.created_ticket and elsewhere.ticket_id != first.ticket_id
    fresh = await make_ticket(db, sender=sender, channel="webchat", thread_key=unique("chat-"))
    assert fresh.created_ticket and fresh.ticket_id != first.ticket_id
    no_thread = await make_ticket(db, sender=sender, channel="webchat")
    assert no_thread.created_ticket and no_thread.ticket_id not in (
        first.ticket_id,
        fresh.ticket_id,
    )


async def test_a_new_ticket_takes_its_subject_from_the_message(db: Database) -> None:
    opened = await make_ticket(db, text="  余额显示不对 " + "很长" * 100)
    ticket = await _ticket(db, opened.ticket_id)
    assert ticket.subject.startswith("余额显示不对") and len(ticket.subject) <= 80
    assert ticket.status == Status.NEW and ticket.tier == 1
    titled = await make_ticket(db, subject="Balance wrong", text="see subject")
    assert (await _ticket(db, titled.ticket_id)).subject == "Balance wrong"


async def test_quoting_someone_elses_ticket_attaches_but_is_flagged(db: Database) -> None:
    owner = await make_ticket(db, sender=customer_email())
    stranger = await make_ticket(
        db, sender=customer_email(), text=f"请帮我看看工单 {owner.ticket_number}"
    )
    assert stranger.ticket_id == owner.ticket_id and not stranger.created_ticket
    message = await _message(db, stranger.message_id)
    assert message.sender_mismatch
    assert message.contact_id != (await _ticket(db, owner.ticket_id)).contact_id
    assert not (await _message(db, owner.message_id)).sender_mismatch


async def test_a_closed_ticket_releases_its_thread(db: Database) -> None:
    sender = customer_email()
    thread = unique("chat-")
    first = await make_ticket(db, sender=sender, channel="webchat", thread_key=thread)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, SYSTEM, first.ticket_number, for_update=True)
        await service.update_ticket(
            session, SYSTEM, ticket, service.TicketChanges(status=Status.CLOSED)
        )
    again = await make_ticket(db, sender=sender, channel="webchat", thread_key=thread, text="hi")
    assert again.created_ticket and again.ticket_id != first.ticket_id
    reopened = await _ticket(db, again.ticket_id)
    assert reopened.open_thread_key == thread and reopened.follow_up_of_id is None
    third = await make_ticket(db, sender=sender, channel="webchat", thread_key=thread, text="?")
    assert third.ticket_id == again.ticket_id


async def test_html_is_sanitised_before_it_is_stored(db: Database) -> None:
    html = (
        '<p onclick="steal()">转账<b>失败</b><script>alert(1)</script>'
        '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">链接</a>'
        '<iframe src="https://evil.example"></iframe></p>'
    )
    result = await ingest(db, _inbound(customer_email(), text="转账失败", html=html))
    stored = (await _message(db, result.message_id)).body_html
    assert stored is not None
    assert "<b>失败</b>" in stored and "转账" in stored
    for dangerous in ("<script", "onclick", "onerror", "javascript:", "<iframe", "alert(1)"):
        assert dangerous not in stored


async def test_a_named_team_puts_the_new_ticket_in_its_queue_and_tier(db: Database) -> None:
    from walletdesk.core.agents.service import ensure_tier_teams, team_for_tier

    async with db.transaction() as session:
        await ensure_tier_teams(session)
        l2 = await team_for_tier(session, 2)
        assert l2 is not None
        l2_id, l2_name = l2.id, l2.name
    routed = await ingest(db, _inbound(customer_email(), team=l2_name))
    ticket = await _ticket(db, routed.ticket_id)
    assert (ticket.tier, ticket.team_id) == (2, l2_id)
    # A team that does not exist (a typo in the settings) must not lose the message.
    lost = await ingest(db, _inbound(customer_email(), team="No such"))
    assert (await _ticket(db, lost.ticket_id)).tier == 1
