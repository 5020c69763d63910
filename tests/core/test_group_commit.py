"""Group commit and the batched follow-up path: many messages, one transaction, same rules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import unique
from walletdesk.core.actors import SYSTEM
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.group_commit import GroupCommit
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.tickets import queries
from walletdesk.core.tickets.appending import Appended, FollowUpDraft, append_follow_ups
from walletdesk.core.tickets.models import Message, Status, Ticket
from walletdesk.core.tickets.service import TicketChanges, update_ticket
from walletdesk.db import Database
from walletdesk.runtime import Runtime


async def _chat(db: Database) -> IngestResult:
    thread = unique("chat")
    return await ingest(
        db,
        InboundMessage(
            channel="webchat",
            external_id=f"{thread}:first",
            sender=SenderIdentity("webchat", unique("visitor")),
            text="我的转账还没到账",
            thread_key=thread,
        ),
        open_new=True,
    )


def _draft(opened: IngestResult, text: str = "还在吗", **overrides: object) -> FollowUpDraft:
    assert opened.ticket is not None and opened.contact_id is not None
    values: dict[str, object] = {
        "ticket_id": opened.ticket_id,
        "channel": "webchat",
        "thread_key": opened.ticket.thread_key,
        "contact_id": opened.contact_id,
        "external_id": unique("m"),
        "text": text,
    }
    values.update(overrides)
    return FollowUpDraft(**values)  # type: ignore[arg-type]


async def _append(db: Database, drafts: Sequence[FollowUpDraft]) -> list[Appended | None]:
    async with db.transaction() as session:
        return await append_follow_ups(session, drafts)


async def _messages(db: Database, ticket_id: int) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Message.body_text).where(Message.ticket_id == ticket_id).order_by(Message.id)
        )
        return list(rows)


async def _set_status(db: Database, number: str, status: str) -> None:
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, SYSTEM, number, for_update=True)
        await update_ticket(session, SYSTEM, ticket, TicketChanges(status=status))


async def test_follow_ups_of_several_chats_are_stored_in_order(db: Database) -> None:
    first, second = await _chat(db), await _chat(db)
    drafts = [_draft(first, "one"), _draft(second, "uno"), _draft(first, "two")]
    results = await _append(db, drafts)
    assert all(r is not None and not r.duplicate for r in results)
    assert [r.ticket_number for r in results if r] == [
        first.ticket_number,
        second.ticket_number,
        first.ticket_number,
    ]
    assert await _messages(db, first.ticket_id) == ["我的转账还没到账", "one", "two"]
    assert await _messages(db, second.ticket_id) == ["我的转账还没到账", "uno"]


async def test_a_resend_is_stored_once_within_a_batch_and_across_batches(db: Database) -> None:
    opened = await _chat(db)
    draft = _draft(opened, "只存一次")
    first, again_in_batch = await _append(db, [draft, draft])
    later = (await _append(db, [draft]))[0]
    assert first is not None and again_in_batch is not None and later is not None
    assert not first.duplicate and again_in_batch.duplicate and later.duplicate
    assert first.message_id == again_in_batch.message_id == later.message_id
    assert (await _messages(db, opened.ticket_id)).count("只存一次") == 1


async def test_a_closed_ticket_hands_the_message_back_for_ingest(db: Database) -> None:
    opened = await _chat(db)
    await _set_status(db, opened.ticket_number, Status.SOLVED)
    await _set_status(db, opened.ticket_number, Status.CLOSED)
    assert await _append(db, [_draft(opened, "after close")]) == [None]
    assert "after close" not in await _messages(db, opened.ticket_id)


async def test_a_pending_ticket_wakes_up_with_an_audit_entry(db: Database) -> None:
    opened = await _chat(db)
    await _set_status(db, opened.ticket_number, Status.OPEN)
    await _set_status(db, opened.ticket_number, Status.PENDING)
    await _append(db, [_draft(opened, "回复你了"), _draft(opened, "再一条")])
    async with db.transaction() as session:
        ticket = await session.get(Ticket, opened.ticket_id)
        assert ticket is not None and ticket.status == Status.OPEN
        woken = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.target_id == opened.ticket_number,
                AuditEvent.action == "ticket.status_changed",
                AuditEvent.actor_name == "customer",
            )
        )
    assert woken == 1


async def test_someone_else_writing_on_the_thread_is_flagged(db: Database) -> None:
    opened = await _chat(db)
    assert opened.contact_id is not None
    other = await _chat(db)
    assert other.contact_id is not None
    result = (await _append(db, [_draft(opened, contact_id=other.contact_id)]))[0]
    assert result is not None
    async with db.transaction() as session:
        message = await session.get(Message, result.message_id)
        assert message is not None and message.sender_mismatch


async def test_writes_that_arrive_together_share_transactions(db: Database) -> None:
    opened = await _chat(db)
    writer: GroupCommit[FollowUpDraft, Appended | None] = GroupCommit(db, append_follow_ups)
    results = await asyncio.gather(*(writer.submit(_draft(opened, f"m{i}")) for i in range(40)))
    assert all(r is not None for r in results)
    assert writer.items == 40 and writer.batches < 40
    assert len(await _messages(db, opened.ticket_id)) == 41


async def test_two_writers_keep_two_batches_in_flight_except_on_sqlite(db: Database) -> None:
    in_flight, most = 0, 0

    async def write(session: AsyncSession, items: Sequence[int]) -> list[int]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)  # a batch's round trips to the database
        in_flight -= 1
        return [item * 2 for item in items]

    writer: GroupCommit[int, int] = GroupCommit(db, write, writers=2)
    first = asyncio.gather(*(writer.submit(n) for n in range(15)))
    await asyncio.sleep(0.005)  # these arrive while the first batch is being written
    second = asyncio.gather(*(writer.submit(n) for n in range(15, 30)))
    assert [*await first, *await second] == [n * 2 for n in range(30)]
    assert most == (1 if db.dialect == "sqlite" else 2)
    await writer.close()


async def test_a_failing_item_fails_alone(db: Database) -> None:
    class Refused(Exception):
        pass

    async def write(session: AsyncSession, texts: Sequence[str]) -> list[str]:
        if "bad" in texts:
            raise Refused("one bad apple")
        return [text.upper() for text in texts]

    writer: GroupCommit[str, str] = GroupCommit(db, write)
    outcomes = await asyncio.gather(
        *(writer.submit(text) for text in ["a", "bad", "c"]), return_exceptions=True
    )
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], Refused)


async def test_an_item_submitted_as_the_writer_finishes_is_still_written(db: Database) -> None:
    """The writer's task is done, its done-callback not yet run: a submit then must start a
    new writer, or the item waits for a submit that may never come (a chat's last message)."""
    second_written = asyncio.Event()

    async def write(session: AsyncSession, items: Sequence[int]) -> list[int]:
        if 2 in items:
            second_written.set()
        return list(items)

    writer: GroupCommit[int, int] = GroupCommit(db, write)
    # submit()'s synchronous part, driven by hand so it can run inside a callback.
    first, second = writer.submit(1), writer.submit(2)
    first.send(None)
    # The item's future is resolved in the writer's last step; its callbacks are queued
    # before the writer task's own, so this one runs while the writer is finished but
    # still counted.
    writer._pending[0][1].add_done_callback(lambda _: second.send(None))
    try:
        await asyncio.wait_for(second_written.wait(), 5)
    finally:
        first.close()
        second.close()
    await writer.close()


async def test_close_finishes_what_is_queued(db: Database) -> None:
    opened = await _chat(db)
    writer: GroupCommit[FollowUpDraft, Appended | None] = GroupCommit(db, append_follow_ups)
    pending = [asyncio.ensure_future(writer.submit(_draft(opened, f"q{i}"))) for i in range(5)]
    await asyncio.sleep(0)
    await writer.close()
    assert all(task.done() for task in pending)
    assert len(await _messages(db, opened.ticket_id)) == 6


@pytest.mark.parametrize("count", [1, 3])
async def test_a_batch_of_one_or_more_leaves_the_ticket_updated(db: Database, count: int) -> None:
    opened = await _chat(db)
    assert opened.ticket is not None
    before = opened.ticket.updated_at
    await _append(db, [_draft(opened, f"t{i}") for i in range(count)])
    async with db.transaction() as session:
        ticket = await session.get(Ticket, opened.ticket_id)
        assert ticket is not None and ticket.updated_at >= before


async def test_the_node_intake_batches_and_still_stores_a_redelivery_once(
    runtime: Runtime,
) -> None:
    senders = [SenderIdentity("email", f"{unique('c')}@example.cn") for _ in range(12)]
    inbounds = [
        InboundMessage(
            channel="email",
            external_id=unique("<m") + "@example.cn>",
            sender=sender,
            text="提现失败，钱被扣了",
        )
        for sender in senders
    ]
    results = await asyncio.gather(
        *(runtime.intake.ingest(inbound) for inbound in [*inbounds, inbounds[3]])
    )
    assert sum(r.created_ticket for r in results) == 12
    assert results[3].message_id == results[-1].message_id
    assert results[-1].duplicate != results[3].duplicate  # one stored it, one found it
    assert len({r.ticket_id for r in results}) == 12
