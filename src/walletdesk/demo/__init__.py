"""Demo data for `walletdesk demo`: six agents and two weeks of wallet-support tickets.

Everything is made through the services the channels and the console use (ingest for
customer messages; the ticket service for replies, notes, escalations and triage), so the
demo shows what the product really does. The one exception is `_backdate_history`, which
moves the timestamps into the past once the stories have been played.

Seeding is idempotent: the demo admin is created last and marks a finished seed. A seed that
died half-way is completed by the next run, story by story (a story whose first message is
already stored is skipped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from walletdesk.core.actors import SYSTEM, Actor
from walletdesk.core.agents.service import actor_for, create_agent, get_agent_by_email
from walletdesk.core.channels import InboundMessage
from walletdesk.core.errors import NotFound
from walletdesk.core.ingest import ingest
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.tickets import queries, service
from walletdesk.core.tickets.models import (
    DeliveryStatus,
    Message,
    Status,
    Ticket,
)
from walletdesk.db import Database, utcnow
from walletdesk.demo.stories import (
    ADMIN,
    DEMO_AGENTS,
    DEMO_PASSWORD,
    STORIES,
    DemoAgent,
    Story,
    Turn,
)
from walletdesk.helpcenter.transfer import seed_default_articles
from walletdesk.settings import Settings

__all__ = ["DEMO_PASSWORD", "seed_demo"]


_TICKET_REF = re.compile(r"\{ticket(?::([\w-]+))?\}")
_SETTLE = timedelta(minutes=15)  # from a story's last turn to its final status change
_AUTO_CLOSE = timedelta(hours=72)  # from solved to closed


@dataclass
class _Played:
    """What one story made, and when each part of it should appear to have happened."""

    ticket_id: int
    number: str
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    closed_at: datetime | None = None
    message_times: dict[int, datetime] = field(default_factory=dict)
    replies: set[int] = field(default_factory=set)


async def seed_demo(settings: Settings) -> list[tuple[str, str, int]]:
    """Seed the demo once; returns (email, role, tier) of every demo agent."""
    db = Database(settings.resolved_database_url)
    try:
        if not await _has_agent(db, ADMIN):
            actors = await _ensure_agents(db, [a for a in DEMO_AGENTS if a is not ADMIN])
            now = utcnow()
            numbers: dict[str, str] = {}
            played = [
                done
                for story in STORIES
                if (done := await _play(db, story, actors, numbers, now)) is not None
            ]
            await _backdate_history(db, played)
            async with db.transaction() as session:
                # The help center's shipped articles (re-importing updates them in place).
                await seed_default_articles(session)
            await _ensure_agents(db, [ADMIN])
        return await _logins(db)
    finally:
        await db.dispose()


async def _has_agent(db: Database, demo: DemoAgent) -> bool:
    async with db.transaction() as session:
        try:
            await get_agent_by_email(session, demo.email)
        except NotFound:
            return False
    return True


async def _ensure_agents(db: Database, demos: list[DemoAgent]) -> dict[str, Actor]:
    actors: dict[str, Actor] = {}
    async with db.transaction() as session:
        for demo in demos:
            try:
                agent = await get_agent_by_email(session, demo.email)
            except NotFound:
                agent = await create_agent(
                    session,
                    SYSTEM,
                    email=demo.email,
                    name=demo.name,
                    role=demo.role,
                    tier=demo.tier,
                    password=DEMO_PASSWORD,
                    locale=demo.locale,
                )
            actors[demo.key] = actor_for(agent)
    return actors


async def _logins(db: Database) -> list[tuple[str, str, int]]:
    logins: list[tuple[str, str, int]] = []
    async with db.transaction() as session:
        for demo in DEMO_AGENTS:
            try:
                agent = await get_agent_by_email(session, demo.email)
            except NotFound:
                continue
            logins.append((agent.email, agent.role, agent.tier))
    return logins


def _fill(text: str, story: Story, numbers: dict[str, str]) -> str:
    return _TICKET_REF.sub(lambda m: numbers[m.group(1) or story.key], text)


def _inbound(story: Story, index: int, turn: Turn, numbers: dict[str, str]) -> InboundMessage:
    via = turn.via
    person = via.person if via else story.person
    channel = via.channel if via else story.channel
    if via:
        subject = _fill(via.subject, story, numbers)
    elif index == 0 or not story.subject:
        subject = story.subject
    else:
        subject = f"Re: {story.subject}"
    first = index == 0
    return InboundMessage(
        channel=channel,
        external_id=f"demo-{story.key}-{index}",
        sender=person.sender,
        also_known_as=() if via else person.also_known_as,
        text=_fill(turn.text, story, numbers),
        subject=subject,
        # API tickets have no thread: the integration opens a ticket per report.
        thread_key=None if channel == "api" else f"demo-{story.key}-{channel}",
        public=story.public and not via,
        locale=story.locale,
        category=story.intake_category if first else None,
        priority=story.intake_priority if first else None,
    )


async def _play(
    db: Database, story: Story, actors: dict[str, Actor], numbers: dict[str, str], now: datetime
) -> _Played | None:
    """Play one story through the services; None if an earlier seed already played it."""
    span = timedelta(minutes=sum(turn.gap for turn in story.turns)) + _SETTLE
    at = now - max(timedelta(hours=story.hours_ago), span + timedelta(minutes=5))
    played: _Played | None = None
    for index, turn in enumerate(story.turns):
        at += timedelta(minutes=turn.gap)
        if turn.act == "say":
            inbound = _inbound(story, index, turn, numbers)
            result = await ingest(db, inbound, open_new=index == 0 and story.channel == "api")
            if played is None:
                numbers[story.key] = result.ticket_number
                if result.duplicate:
                    return None
                played = _Played(result.ticket_id, result.ticket_number, at, at)
            elif result.ticket_number != played.number:
                raise RuntimeError(f"demo story {story.key} strayed to {result.ticket_number}")
            played.message_times[result.message_id] = at
            continue
        if played is None:
            raise RuntimeError(f"demo story {story.key} must start with the customer")
        message_id = await _agent_turn(db, actors[turn.by], played.number, turn, story, numbers)
        played.message_times[message_id] = at
        if turn.act == "reply":
            played.replies.add(message_id)
            played.first_response_at = played.first_response_at or at
    assert played is not None
    played.updated_at = at
    await _triage(db, story, actors, played, settled_at=at + _SETTLE, now=now)
    return played


async def _agent_turn(
    db: Database,
    actor: Actor,
    number: str,
    turn: Turn,
    story: Story,
    numbers: dict[str, str],
) -> int:
    text = _fill(turn.text, story, numbers)
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, actor, number, for_update=True)
        if turn.act == "escalate":
            await service.escalate_ticket(session, actor, ticket, text)
            return (await queries.ticket_messages(session, ticket.id))[-1].id
        message = await service.post_agent_message(
            session, actor, ticket, body=text, internal=turn.act == "note"
        )
        return int(message.id)


async def _triage(
    db: Database,
    story: Story,
    actors: dict[str, Actor],
    played: _Played,
    *,
    settled_at: datetime,
    now: datetime,
) -> None:
    """Leave the ticket as the story ends: status, priority, category, owner and tags."""
    changes = service.TicketChanges()
    if story.priority:
        changes.priority = story.priority
    if story.category:
        changes.category = story.category
    if story.tags:
        changes.tags = list(story.tags)
    actor = actors[story.assignee] if story.assignee else actors["sup"]
    if story.assignee:
        changes.assignee_id = actor.agent_id
    if story.status == Status.NEW and changes == service.TicketChanges():
        return
    played.updated_at = settled_at
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, actor, played.number, for_update=True)
        if story.status == Status.CLOSED and ticket.status != Status.NEW:
            # Closed is reached through solved (new → closed is only for spam).
            changes.status = Status.SOLVED
            await service.update_ticket(session, actor, ticket, changes)
            changes = service.TicketChanges()
            played.solved_at = settled_at
        elif story.status == Status.SOLVED:
            played.solved_at = settled_at
        changes.status = story.status
        await service.update_ticket(session, actor, ticket, changes)
    if story.status == Status.CLOSED:
        closed = settled_at
        if played.solved_at is not None:  # solved tickets close by themselves days later
            closed = max(settled_at, min(settled_at + _AUTO_CLOSE, now - timedelta(minutes=10)))
        played.closed_at = played.updated_at = closed


async def _backdate_history(db: Database, played: list[_Played]) -> None:
    """Spread the demo's history over the last two weeks, and mark its replies delivered.

    The services stamp every row with the present, as they must; played in a few seconds,
    the demo would show forty tickets all created "just now". This is the one place in
    WalletDesk that writes past timestamps and delivery outcomes directly, and it only touches
    the rows the demo has just made. (The audit trail keeps the real time of the seed.)

    The agents' replies in these stories are history, imported as already delivered. Sent now,
    they would go to made-up addresses, or fail on channels that have no adapter on this
    server, filling the console with delivery errors about conversations that "happened" days
    ago. So their outbox jobs are marked done and the messages sent. Replies written in the
    running demo go through the outbox as usual.
    """
    if not played:
        return
    message_rows: list[dict[str, object]] = []
    sent_at: dict[int, datetime] = {}
    for story in played:
        for message_id, at in story.message_times.items():
            row: dict[str, object] = {"id": message_id, "created_at": at}
            if message_id in story.replies:
                row["delivery_status"] = DeliveryStatus.SENT
                sent_at[message_id] = at
            message_rows.append(row)
    ticket_rows = [
        {
            "id": story.ticket_id,
            "created_at": story.created_at,
            "updated_at": story.updated_at,
            "first_response_at": story.first_response_at,
            "solved_at": story.solved_at,
            "closed_at": story.closed_at,
        }
        for story in played
    ]
    async with db.transaction() as session:
        # ORM bulk UPDATE by primary key: one statement per set of columns.
        await session.execute(update(Message), message_rows)
        await session.execute(update(Ticket), ticket_rows)
        jobs = await session.execute(
            select(OutboxJob.id, OutboxJob.payload).where(
                OutboxJob.ticket_id.in_([story.ticket_id for story in played]),
                OutboxJob.kind == service.DELIVER_MESSAGE,
                OutboxJob.status == OutboxStatus.PENDING,
            )
        )
        job_rows = [
            {
                "id": job_id,
                "status": OutboxStatus.DONE,
                "attempts": 1,
                "created_at": sent,
                "next_attempt_at": sent,
                "done_at": sent + timedelta(seconds=2),
            }
            for job_id, payload in jobs
            if (sent := sent_at.get(int(payload["message_id"]))) is not None
        ]
        if job_rows:
            await session.execute(update(OutboxJob), job_rows)


DEMO_SITE_NAME = "WalletDesk demo page"


async def ensure_demo_chat_site(settings: Settings, origin: str) -> str:
    """The chat site behind /webchat/demo on this server's own origin; returns its key."""
    from walletdesk.channels.webchat.sites import create_site, list_sites

    db = Database(settings.resolved_database_url)
    try:
        async with db.transaction() as session:
            for site in await list_sites(session):
                if site.name == DEMO_SITE_NAME and origin in site.allowed_origins:
                    return site.key
            created = await create_site(session, SYSTEM, name=DEMO_SITE_NAME, origins=[origin])
            return created.key
    finally:
        await db.dispose()
