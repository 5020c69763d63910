"""Ticket lifecycle through the service: the transition table, reopening, follow-ups, escalation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import AgentLogin, customer_email, make_agent, make_ticket
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.service import team_for_tier
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.errors import InvalidInput, PermissionDenied
from walletdesk.core.tickets import queries, service
from walletdesk.core.tickets.lifecycle import ALLOWED_TRANSITIONS, status_after_customer_message
from walletdesk.core.tickets.models import AuthorKind, Message, Status, Ticket
from walletdesk.db import Database


async def _ticket(db: Database, ticket_id: int) -> Ticket:
    async with db.transaction() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def _set_status(db: Database, number: str, status: str) -> Ticket:
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, SYSTEM, number, for_update=True)
        await service.update_ticket(session, SYSTEM, ticket, service.TicketChanges(status=status))
        return ticket


async def _audit(db: Database, number: str, action: str) -> list[AuditEvent]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.target_kind == "ticket",
                AuditEvent.target_id == number,
                AuditEvent.action == action,
            )
            .order_by(AuditEvent.id)
        )
        return list(rows.all())


async def test_every_transition_is_allowed_or_refused_as_the_table_says(db: Database) -> None:
    wrong: list[str] = []
    for current in Status:
        for target in Status:
            if target == current:
                continue
            opened = await make_ticket(db, thread_key=f"thread-{current}-{target}")
            if current != Status.NEW:
                await _set_status(db, opened.ticket_number, current)
            allowed = target in ALLOWED_TRANSITIONS[current]
            try:
                await _set_status(db, opened.ticket_number, target)
                moved = True
            except InvalidInput as exc:
                assert exc.field == "status"
                assert str(current) in exc.message and str(target) in exc.message
                moved = False
            after = await _ticket(db, opened.ticket_id)
            assert after.status == (target if moved else current)
            if moved != allowed:
                wrong.append(f"{current}→{target}: {'moved' if moved else 'refused'}")
            if moved:
                changes = await _audit(db, opened.ticket_number, "ticket.status_changed")
                assert changes[-1].detail == {"old": current, "new": target}
    assert wrong == []


async def test_closing_sets_closed_at_and_lets_go_of_the_thread(db: Database) -> None:
    opened = await make_ticket(db, channel="webchat", thread_key="chat-close")
    await _set_status(db, opened.ticket_number, Status.SOLVED)
    solved = await _ticket(db, opened.ticket_id)
    assert solved.solved_at is not None and solved.open_thread_key == "chat-close"
    await _set_status(db, opened.ticket_number, Status.CLOSED)
    closed = await _ticket(db, opened.ticket_id)
    assert closed.closed_at is not None
    assert closed.open_thread_key is None and closed.thread_key == "chat-close"


async def test_a_closed_ticket_takes_no_public_reply_but_an_internal_note(
    db: Database, l1_agent: AgentLogin
) -> None:
    opened = await make_ticket(db)
    await _set_status(db, opened.ticket_number, Status.CLOSED)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, l1_agent.actor, opened.ticket_number)
        with pytest.raises(InvalidInput) as refused:
            await service.post_agent_message(
                session, l1_agent.actor, ticket, body="hello", internal=False
            )
        assert refused.value.field == "status"
        note = await service.post_agent_message(
            session, l1_agent.actor, ticket, body="spam, closed", internal=True
        )
        assert note.internal and note.delivery_status is None


@pytest.mark.parametrize("waiting", [Status.SOLVED, Status.PENDING])
async def test_a_customer_message_reopens_a_waiting_ticket(db: Database, waiting: Status) -> None:
    sender = customer_email()
    opened = await make_ticket(db, sender=sender)
    await _set_status(db, opened.ticket_number, Status.OPEN)
    await _set_status(db, opened.ticket_number, waiting)
    again = await make_ticket(db, sender=sender, text=f"工单 {opened.ticket_number} 还是没到账")
    assert again.ticket_id == opened.ticket_id and not again.created_ticket
    ticket = await _ticket(db, opened.ticket_id)
    assert ticket.status == Status.OPEN
    assert ticket.solved_at is None
    action = "ticket.reopened" if waiting == Status.SOLVED else "ticket.status_changed"
    entry = (await _audit(db, opened.ticket_number, action))[-1]
    assert entry.detail["old"] == waiting and entry.detail["new"] == Status.OPEN
    assert entry.detail["reason"] == "customer message"


async def test_a_customer_message_leaves_new_and_open_tickets_as_they_are(db: Database) -> None:
    sender = customer_email()
    opened = await make_ticket(db, sender=sender)
    await make_ticket(db, sender=sender, text=f"补充 {opened.ticket_number}")
    assert (await _ticket(db, opened.ticket_id)).status == Status.NEW
    await _set_status(db, opened.ticket_number, Status.OPEN)
    await make_ticket(db, sender=sender, text=f"再补充 {opened.ticket_number}")
    assert (await _ticket(db, opened.ticket_id)).status == Status.OPEN
    assert status_after_customer_message(Status.CLOSED) == Status.CLOSED


async def test_writing_about_a_closed_ticket_opens_a_follow_up(db: Database) -> None:
    sender = customer_email()
    opened = await make_ticket(db, sender=sender, channel="email", thread_key="<a@mail>")
    await _set_status(db, opened.ticket_number, Status.SOLVED)
    await _set_status(db, opened.ticket_number, Status.CLOSED)
    follow = await make_ticket(
        db,
        sender=sender,
        channel="email",
        subject=f"Re: [#{opened.ticket_number}] 转账没到账",
        text="钱还是没到",
        thread_key="<b@mail>",
    )
    assert follow.created_ticket and follow.ticket_id != opened.ticket_id
    ticket = await _ticket(db, follow.ticket_id)
    assert ticket.follow_up_of_id == opened.ticket_id
    assert ticket.status == Status.NEW
    assert (await _ticket(db, opened.ticket_id)).status == Status.CLOSED
    async with db.transaction() as session:
        stored = await session.get(Message, follow.message_id)
        assert stored is not None and stored.ticket_id == follow.ticket_id


async def test_escalation_moves_up_one_tier_into_that_tiers_queue(
    db: Database, l1_agent: AgentLogin, supervisor: AgentLogin
) -> None:
    opened = await make_ticket(db)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(
            session, l1_agent.actor, opened.ticket_number, for_update=True
        )
        await service.assign_ticket(session, l1_agent.actor, ticket, l1_agent.agent.id)
    assert (await _ticket(db, opened.ticket_id)).assignee_id == l1_agent.agent.id

    async with db.transaction() as session:
        ticket = await queries.get_ticket(
            session, l1_agent.actor, opened.ticket_number, for_update=True
        )
        await service.escalate_ticket(session, l1_agent.actor, ticket, "  needs ledger check ")
        team2 = await team_for_tier(session, 2)
    assert team2 is not None
    ticket = await _ticket(db, opened.ticket_id)
    assert (ticket.tier, ticket.team_id, ticket.assignee_id) == (2, team2.id, None)
    assert ticket.status == Status.OPEN

    async with db.transaction() as session:
        notes = await queries.ticket_messages(session, ticket.id)
    note = notes[-1]
    assert note.author_kind == AuthorKind.SYSTEM and note.internal
    assert "needs ledger check" in note.body_text and "L1" in note.body_text
    assert note.delivery_status is None
    entry = (await _audit(db, opened.ticket_number, "ticket.escalated"))[-1]
    assert entry.actor_id == l1_agent.agent.id
    assert entry.detail["reason"] == "needs ledger check"
    assert (entry.detail["old_tier"], entry.detail["new_tier"]) == (1, 2)

    # The L1 agent no longer works this ticket; its own queue does not show it.
    async with db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await queries.get_ticket(session, l1_agent.actor, opened.ticket_number)

    async with db.transaction() as session:
        ticket = await queries.get_ticket(
            session, supervisor.actor, opened.ticket_number, for_update=True
        )
        await service.escalate_ticket(session, supervisor.actor, ticket, "complaint to regulator")
        assert ticket.tier == 3
    async with db.transaction() as session:
        ticket = await queries.get_ticket(
            session, supervisor.actor, opened.ticket_number, for_update=True
        )
        with pytest.raises(InvalidInput) as refused:
            await service.escalate_ticket(session, supervisor.actor, ticket, "even higher")
        assert refused.value.field == "tier"
    assert (await _ticket(db, opened.ticket_id)).tier == 3
    assert len(await _audit(db, opened.ticket_number, "ticket.escalated")) == 2


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
async def test_escalation_needs_a_reason(db: Database, l1_agent: AgentLogin, reason: str) -> None:
    opened = await make_ticket(db)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(
            session, l1_agent.actor, opened.ticket_number, for_update=True
        )
        with pytest.raises(InvalidInput) as refused:
            await service.escalate_ticket(session, l1_agent.actor, ticket, reason)
        assert refused.value.field == "reason"
    assert (await _ticket(db, opened.ticket_id)).tier == 1
    assert await _audit(db, opened.ticket_number, "ticket.escalated") == []


async def test_an_agent_assigns_only_within_the_tickets_tier(db: Database) -> None:
    l1 = await make_agent(db, "agent", 1)
    l2 = await make_agent(db, "agent", 2)
    opened = await make_ticket(db)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, l1.actor, opened.ticket_number, for_update=True)
        with pytest.raises(InvalidInput) as refused:
            await service.assign_ticket(session, l1.actor, ticket, l2.agent.id)
        assert refused.value.field == "assignee"
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, l1.actor, opened.ticket_number, for_update=True)
        await service.assign_ticket(session, l1.actor, ticket, l1.agent.id)
        assert ticket.status == Status.OPEN
