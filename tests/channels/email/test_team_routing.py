"""Support addresses that name a team: mail to them starts in that team's queue and tier."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.channels.email.conftest import (
    SUPPORT,
    Sink,
    make_settings,
    new_address,
    new_message_id,
    send,
    ticket_of,
)
from tests.channels.email.mail import text_email
from tests.conftest import unique
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.smtp_server import SmtpServerHandle, start_smtp_server
from walletdesk.core.agents.models import Team
from walletdesk.runtime import Runtime

DOMAIN = "walletdesk.test"


@pytest.fixture
async def l2_team(runtime: Runtime) -> Team:
    # A team of the test's own: the shared test database may hold others of tier 2.
    async with runtime.db.transaction() as session:
        team = Team(name=unique("L2 Technical "), tier=2)
        session.add(team)
        await session.flush()
    return team


@pytest.fixture
async def routed_server(
    runtime: Runtime, sink: Sink, l2_team: Team
) -> AsyncIterator[tuple[SmtpServerHandle, str, str]]:
    escalations, unknown = f"{unique('esc')}@{DOMAIN}", f"{unique('vip')}@{DOMAIN}"
    settings = make_settings(
        sink.port,
        support_addresses=f"{SUPPORT},{escalations}={l2_team.name},{unknown}=No Such Team",
    )
    runtime.channels.register(EmailAdapter(runtime, settings))
    handle = await start_smtp_server(runtime, settings)
    assert handle is not None
    yield handle, escalations, unknown
    await handle.close()


async def test_mail_to_a_team_address_starts_in_that_teams_queue_and_tier(
    runtime: Runtime,
    routed_server: tuple[SmtpServerHandle, str, str],
    l2_team: Team,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, escalations, unknown = routed_server
    to_team, to_support, to_unknown = new_message_id(), new_message_id(), new_message_id()
    await send(
        server.port,
        text_email(sender=new_address(), message_id=to_team, to=escalations),
        to=(escalations,),
    )
    await send(server.port, text_email(sender=new_address(), message_id=to_support))
    with caplog.at_level(logging.WARNING):
        await send(
            server.port,
            text_email(sender=new_address(), message_id=to_unknown, to=unknown),
            to=(unknown,),
        )

    routed = await ticket_of(runtime, to_team)
    assert (routed.team_id, routed.tier) == (l2_team.id, 2)
    plain = await ticket_of(runtime, to_support)
    assert plain.tier == 1 and plain.team_id != l2_team.id
    # A team name nobody created: the L1 queue, and a line in the log saying why.
    fallback = await ticket_of(runtime, to_unknown)
    assert fallback.tier == 1
    assert any("No Such Team" in record.getMessage() for record in caplog.records)
