"""One received email, from SMTP or IMAP, through to its ticket.

Steps: parse; a bounce marks our reply failed and stops there; find the thread from
In-Reply-To/References; ingest (idempotent on the Message-ID); then, in a second short
transaction, remember the Message-ID and queue the acknowledgement. A crash between the
two is repaired by the redelivery: ingest answers "duplicate", the mapping is missing,
and the second step runs then; the acknowledgement's key is unique, so it goes out once.
Both steps go through group commits on a busy node: emails received together share
their transactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.email import service
from walletdesk.channels.email.authresults import AuthVerdict, verdict_from_headers
from walletdesk.channels.email.jobs import enqueue_ack
from walletdesk.channels.email.models import Direction
from walletdesk.channels.email.parsing import ParsedEmail, parse_email
from walletdesk.channels.email.senderauth import authenticate
from walletdesk.channels.email.settings import EmailSettings, SupportAddress
from walletdesk.core.actors import SYSTEM
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.identities import normalize_email
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.core.group_commit import GroupCommit
from walletdesk.core.ingest import IngestResult
from walletdesk.core.tickets.delivery import record_delivery
from walletdesk.core.tickets.models import Message, Ticket
from walletdesk.core.tickets.service import post_agent_message

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

# Parsing a big message takes long enough to stall other SMTP sessions: do it in a thread.
PARSE_IN_THREAD_BYTES = 256 * 1024


class Refused(Exception):
    """The message cannot be taken as it is (bad sender); SMTP answers with `code`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class Received:
    outcome: str  # stored, duplicate, bounce, ignored
    ticket_number: str | None = None
    message_id: str = ""
    acknowledged: bool = False
    detail: str = ""


def support_address_for(
    settings: EmailSettings, recipients: Sequence[str]
) -> SupportAddress | None:
    addresses = settings.addresses
    for recipient in recipients:
        found = addresses.get(recipient.strip().strip("<>").lower())
        if found is not None:
            return found
    return None


async def receive(
    runtime: Runtime,
    settings: EmailSettings,
    raw: bytes,
    *,
    envelope_from: str | None = None,
    recipients: Sequence[str] = (),
) -> Received:
    """Take one email. `envelope_from` "" is the null return path; None when unknown (IMAP)."""
    if len(raw) > PARSE_IN_THREAD_BYTES:
        parsed = await asyncio.to_thread(parse_email, raw)
    else:
        parsed = parse_email(raw)
    if parsed.bounce is not None:
        return await _bounced(runtime, parsed)
    if parsed.report_type is not None:
        return Received("ignored", message_id=parsed.message_id, detail=parsed.report_type)
    ours = set(settings.addresses) | {settings.mail_from.lower()}
    if parsed.from_address in ours:
        # Our own mail come back (a relay loop, a misrouted copy): never a customer message.
        return Received("ignored", message_id=parsed.message_id, detail="sent by ourselves")
    address = _sender_address(parsed, envelope_from)
    automatic = parsed.automatic or ("null return path" if envelope_from == "" else None)
    support = support_address_for(settings, [*recipients, *parsed.recipients])

    # Our DKIM/DMARC check waits on DNS: it runs while the email is stored.
    relay = verdict_from_headers(parsed.authentication_results, settings.trusted_relays)
    checking = asyncio.create_task(authenticate(settings, raw, address, relay))
    try:
        thread = None
        if parsed.thread_ids:
            async with runtime.db.transaction() as session:
                thread = await service.find_thread(session, parsed.thread_ids)
        thread_key = thread.thread_root if thread else parsed.message_id
        raw_key = await runtime.files.put(raw)
        result = await runtime.intake.ingest(
            InboundMessage(
                channel="email",
                external_id=parsed.message_id,
                sender=SenderIdentity("email", address, parsed.from_name),
                text=parsed.text,
                thread_key=thread_key,
                subject=parsed.subject,
                html=parsed.html,
                attachments=tuple(parsed.attachments),
                locale=parsed.locale,
                category=support.category if support else None,
                team=support.team if support else None,
            ),
        )
    except InvalidInput as exc:
        checking.cancel()
        raise Refused(550, f"5.6.0 cannot take this message: {exc}") from None
    except BaseException:
        checking.cancel()
        raise

    verdict = await checking
    return await _record(
        runtime,
        StoredEmail(
            settings=settings,
            parsed=parsed,
            result=result,
            verdict=verdict,
            address=address,
            automatic=automatic,
            thread_key=thread_key,
            raw_key=raw_key,
            raw_size=len(raw),
        ),
    )


@dataclass(frozen=True, slots=True)
class StoredEmail:
    """An email ingest() stored, waiting for its second step."""

    settings: EmailSettings
    parsed: ParsedEmail
    result: IngestResult
    verdict: AuthVerdict
    address: str
    automatic: str | None
    thread_key: str
    raw_key: str
    raw_size: int


async def _record(runtime: Runtime, intake: StoredEmail) -> Received:
    # Through the node's group commit when the email channel is installed (SMTP and IMAP
    # receive many at once), else in a transaction of its own.
    adapter = runtime.channels.get("email")
    recorder = getattr(adapter, "recorder", None)
    if isinstance(recorder, GroupCommit):
        return await recorder.submit(intake)  # type: ignore[no-any-return]
    async with runtime.db.transaction() as session:
        return await _record_one(session, intake)


async def record_batch(session: AsyncSession, intakes: Sequence[StoredEmail]) -> list[Received]:
    """The second step of many emails in one transaction (the email adapter's group commit)."""
    return [await _record_one(session, intake) for intake in intakes]


async def _record_one(session: AsyncSession, intake: StoredEmail) -> Received:
    """Remember the Message-ID and its authentication verdicts; queue the acknowledgement."""
    parsed, result, address, settings = (
        intake.parsed,
        intake.result,
        intake.address,
        intake.settings,
    )
    verdict = intake.verdict
    if result.duplicate and await service.is_known(session, parsed.message_id):
        return Received("duplicate", result.ticket_number, parsed.message_id)
    if result.ticket is not None:  # just stored: no need to read it back
        channel, ticket_thread = result.ticket.channel, result.ticket.thread_key
    else:
        channel, ticket_thread = (
            await session.execute(
                select(Ticket.channel, Ticket.thread_key).where(Ticket.id == result.ticket_id)
            )
        ).one()
    root = ticket_thread if channel == "email" and ticket_thread else intake.thread_key
    suspicious = verdict.failed and await _is_verified(session, address)
    await service.record_email(
        session,
        message_id_header=parsed.message_id,
        ticket_id=result.ticket_id,
        message_id=result.message_id,
        direction=Direction.INBOUND,
        thread_root=root,
        raw_key=intake.raw_key,
        raw_size=intake.raw_size,
        full_text=parsed.full_text,
        spf=verdict.spf,
        dkim=verdict.dkim,
        dmarc=verdict.dmarc,
        auth_suspicious=suspicious,
    )
    if suspicious:
        await _flag_unauthenticated(session, result.ticket_id, address, verdict)
    acknowledged = False
    if intake.automatic is None and settings.ack_enabled and await _opened_ticket(session, result):
        acknowledged = await service.claim_auto_reply(
            session,
            in_reply_to=parsed.message_id,
            recipient=address,
            ticket_id=result.ticket_id,
            limit=settings.autoreply_limit_per_hour,
        )
        if acknowledged:
            await enqueue_ack(
                session,
                ticket_id=result.ticket_id,
                ticket_number=result.ticket_number,
                to=address,
                to_name=parsed.from_name,
                subject=parsed.subject,
                locale=parsed.locale,
                in_reply_to=parsed.message_id,
                references=[*parsed.references, parsed.message_id][-20:],
                thread_root=root,
                key=f"email-ack:{parsed.message_id}"[:80],
            )
    return Received(
        "duplicate" if result.duplicate else "stored",
        result.ticket_number,
        parsed.message_id,
        acknowledged=acknowledged,
        detail=intake.automatic or "",
    )


def _sender_address(parsed: ParsedEmail, envelope_from: str | None) -> str:
    for candidate in (parsed.from_address, envelope_from or ""):
        if not candidate:
            continue
        try:
            return normalize_email(candidate)
        except InvalidInput:
            continue
    raise Refused(550, "5.1.7 the message has no usable sender address (From)")


async def _opened_ticket(session: AsyncSession, result: IngestResult) -> bool:
    """Did this email open its ticket? For a redelivery, whether it is the ticket's first."""
    if result.created_ticket:
        return True
    if not result.duplicate:
        return False
    first = await session.scalar(
        select(func.min(Message.id)).where(Message.ticket_id == result.ticket_id)
    )
    return first == result.message_id


async def _is_verified(session: AsyncSession, address: str) -> bool:
    verified = await session.scalar(
        select(ContactIdentity.verified).where(
            ContactIdentity.kind == "email", ContactIdentity.value == address
        )
    )
    return bool(verified)


async def _flag_unauthenticated(
    session: AsyncSession, ticket_id: int, address: str, verdict: AuthVerdict
) -> None:
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    assert ticket is not None
    results = f"SPF={verdict.spf or '-'}, DKIM={verdict.dkim or '-'}, DMARC={verdict.dmarc or '-'}"
    await post_agent_message(
        session,
        SYSTEM,
        ticket,
        body=(
            f"⚠ 此邮件自称来自已验证客户 {address}，但发件域名验证未通过（{results}）。"
            "处理资金或账户请求前，请通过其他渠道核实身份。\n"
            f"⚠ This email claims to come from the verified customer {address} but failed "
            f"sender authentication ({results}). Verify the customer's identity another way "
            "before acting on requests about funds or the account."
        ),
        internal=True,
    )


async def _bounced(runtime: Runtime, parsed: ParsedEmail) -> Received:
    bounce = parsed.bounce
    assert bounce is not None
    if not bounce.failed:
        return Received("ignored", message_id=parsed.message_id, detail="delivery delayed")
    async with runtime.db.transaction() as session:
        replies = await service.replies_with_ids(session, bounce.original_ids)
        for message_id in replies:
            await record_delivery(
                session,
                message_id,
                error=bounce.describe(),
                reason="bounced",
                dead=True,
                external_id=None,
            )
    if not replies:
        log.info("a bounce for no reply of ours (ids %s)", bounce.original_ids[:3])
        return Received("ignored", message_id=parsed.message_id, detail="bounce of unknown mail")
    return Received("bounce", message_id=parsed.message_id, detail=bounce.describe())
