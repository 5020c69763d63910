"""SPF/DKIM/DMARC verdicts from a trusted relay; failing mail of a verified customer is flagged."""

from __future__ import annotations

import pytest

from tests.channels.email.conftest import (
    TRUSTED_RELAY,
    email_row,
    messages_of,
    new_address,
    new_message_id,
    send,
    ticket_of,
)
from tests.channels.email.mail import text_email
from walletdesk.channels.email.authresults import verdict_from_headers
from walletdesk.channels.email.smtp_server import SmtpServerHandle
from walletdesk.core.contacts.service import SenderIdentity, resolve_contact
from walletdesk.runtime import Runtime

FAILING = (
    f"{TRUSTED_RELAY}; spf=fail smtp.mailfrom=example.cn; dkim=none; "
    "dmarc=fail header.from=example.cn"
)
PASSING = (
    f"{TRUSTED_RELAY}; spf=pass smtp.mailfrom=example.cn; dkim=pass header.d=example.cn; dmarc=pass"
)


async def _verified_customer(runtime: Runtime) -> str:
    address = new_address()
    async with runtime.db.transaction() as session:
        await resolve_contact(session, SenderIdentity("email", address, "Li Si", verified=True))
    return address


async def test_a_verified_customers_address_failing_dmarc_is_flagged_on_the_ticket(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    address, message_id = await _verified_customer(email_runtime), new_message_id()
    raw = text_email(
        sender=address,
        message_id=message_id,
        subject="请把余额转到这张新卡",
        extra={"Authentication-Results": FAILING},
    )
    await send(smtp_server.port, raw)
    stored = await email_row(email_runtime, message_id)
    assert (stored.spf, stored.dkim, stored.dmarc) == ("fail", "none", "fail")
    assert stored.auth_suspicious
    ticket = await ticket_of(email_runtime, message_id)
    messages = await messages_of(email_runtime, ticket.id)
    [note] = [m for m in messages if m.internal]
    assert address in note.body_text and "DMARC=fail" in note.body_text
    assert "已验证客户" in note.body_text


@pytest.mark.parametrize(
    ("header", "verified"),
    [
        (PASSING, True),
        (FAILING, False),  # an unverified sender claims nothing to protect
        (FAILING.replace(TRUSTED_RELAY, "relay.attacker.example"), True),  # forged header
    ],
    ids=["passes", "unverified-sender", "untrusted-header"],
)
async def test_no_flag_without_a_trusted_failure_for_a_verified_customer(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, header: str, verified: bool
) -> None:
    address = await _verified_customer(email_runtime) if verified else new_address()
    message_id = new_message_id()
    raw = text_email(
        sender=address, message_id=message_id, extra={"Authentication-Results": header}
    )
    await send(smtp_server.port, raw)
    stored = await email_row(email_runtime, message_id)
    assert not stored.auth_suspicious
    ticket = await ticket_of(email_runtime, message_id)
    assert not [m for m in await messages_of(email_runtime, ticket.id) if m.internal]


def test_verdicts_read_comments_several_signatures_and_only_trusted_relays() -> None:
    trusted = frozenset({"mx.walletdesk.test"})
    verdict = verdict_from_headers(
        [
            "mx.walletdesk.test (Postfix; authenticated); dkim=fail (bad sig) header.d=a.cn;"
            " dkim=pass header.d=example.cn; spf=softfail (domain of x) smtp.mailfrom=x.cn",
            "evil.example; dmarc=pass",
        ],
        trusted,
    )
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("softfail", "pass", None)
    assert not verdict.failed
    assert verdict_from_headers(["mx.walletdesk.test; spf=fail; dkim=none"], trusted).failed
    assert not verdict_from_headers(["mx.walletdesk.test; none"], trusted).checked
