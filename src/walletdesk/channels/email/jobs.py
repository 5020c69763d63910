"""Outbox job of the email channel: the acknowledgement of a new ticket."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.email import service
from walletdesk.channels.email.compose import build_ack, stable_message_id
from walletdesk.channels.email.models import Direction
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.email.transport import WAITS_FOR_SETTINGS, send_email
from walletdesk.core.channels import ChannelSettingsError, DeliveryError, PermanentDeliveryError
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.outbox.service import enqueue
from walletdesk.core.tickets.queries import first_customer_text

if TYPE_CHECKING:
    from walletdesk.core.outbox.worker import JobHandler
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

EMAIL_ACK = "email_ack"


async def enqueue_ack(
    session: AsyncSession,
    *,
    ticket_id: int,
    ticket_number: str,
    to: str,
    to_name: str,
    subject: str,
    locale: str,
    in_reply_to: str,
    references: list[str],
    thread_root: str,
    key: str,
) -> None:
    """Queue the acknowledgement in the caller's transaction (once per `key`)."""
    payload: dict[str, Any] = {
        "ticket_id": ticket_id,
        "ticket_number": ticket_number,
        "to": to,
        "to_name": to_name,
        "subject": subject,
        "locale": locale,
        "in_reply_to": in_reply_to,
        "references": references,
        "thread_root": thread_root,
    }
    await enqueue(session, EMAIL_ACK, payload, ticket_id=ticket_id, idempotency_key=key)


class SendAck:
    """Sends an acknowledgement from the null return path (RFC 3834), so it never bounces back."""

    def __init__(self, runtime: Runtime, settings: EmailSettings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def run(self, job: OutboxJob) -> str | None:
        payload = job.payload
        try:
            ticket_id = int(payload["ticket_id"])
            number = str(payload["ticket_number"])
            to = str(payload["to"])
        except (KeyError, TypeError, ValueError):
            raise PermanentDeliveryError(
                "malformed acknowledgement job", reason="internal"
            ) from None
        our_id = stable_message_id(job.idempotency_key, number, self.settings.mail_domain)
        in_reply_to = str(payload.get("in_reply_to") or "")
        references = [str(r) for r in payload.get("references") or []]
        locale = str(payload.get("locale") or "zh-CN")
        async with self.runtime.db.transaction() as session:
            await service.record_email(
                session,
                message_id_header=our_id,
                ticket_id=ticket_id,
                direction=Direction.ACK,
                thread_root=str(payload.get("thread_root") or in_reply_to or our_id),
            )
            question = await first_customer_text(session, ticket_id)
        articles = await self._articles(f"{payload.get('subject') or ''}\n{question}", locale)
        try:
            email = build_ack(
                self.settings,
                to=to,
                to_name=str(payload.get("to_name") or ""),
                ticket_number=number,
                original_subject=str(payload.get("subject") or ""),
                locale=locale,
                message_id=our_id,
                in_reply_to=in_reply_to,
                references=references,
                articles=articles,
            )
        except (ValueError, TypeError) as exc:
            raise PermanentDeliveryError(
                f"cannot address an email to {to!r}: {exc}", reason="no_address"
            ) from None
        try:
            await send_email(self.settings, email, sender="", recipients=[to])
        except ChannelSettingsError as exc:
            # Unlike a reply, a greeting hours late (after the agent's answer, perhaps) is
            # worse than none: it gives up after its usual attempts.
            said = str(exc).replace(WAITS_FOR_SETTINGS, "the acknowledgement is not kept waiting")
            raise DeliveryError(said, reason="settings") from None
        return our_id

    async def _articles(self, question: str, locale: str) -> list[tuple[str, str]]:
        """Help articles for the question, as (title, absolute link); none if search fails."""
        from walletdesk.helpcenter.reader_signals import record_deflection
        from walletdesk.helpcenter.schemas import DeflectionIn
        from walletdesk.helpcenter.suggest import article_path, suggest_articles

        try:
            found = await suggest_articles(
                self.runtime.db, question, "zh-CN" if locale.startswith("zh") else "en"
            )
        except Exception:  # deflection is a courtesy: the acknowledgement goes out regardless
            log.exception("help-center suggestions for an acknowledgement failed")
            return []
        if not found.hits:
            return []
        try:
            # Counted as one question in the deflection report; the `s` in each link lets
            # the article page record "this solved it" for it.
            async with self.runtime.db.transaction() as session:
                await record_deflection(
                    session,
                    DeflectionIn(
                        suggestion_id=found.suggestion_id,
                        outcome="shown",
                        channel="email",
                        locale=found.locale,
                    ),
                )
        except Exception:
            log.exception("could not record the acknowledgement's suggestions as shown")
        base = self.runtime.settings.base_url.rstrip("/")
        query = "?" + urlencode({"s": found.suggestion_id})
        return [
            (hit.title, base + article_path(found.locale, hit.slug) + query) for hit in found.hits
        ]

    async def record(
        self,
        session: AsyncSession,
        job: OutboxJob,
        *,
        error: str | None,
        reason: str | None,
        dead: bool,
        external_id: str | None,
    ) -> None:
        # An acknowledgement is not a ticket message: its fate is the outbox row's, and
        # a lost one is only logged (the agent's reply is what the customer waits for).
        if error is not None and dead:
            log.warning("acknowledgement for ticket %s gave up: %s", job.ticket_id, error)


def email_job_handlers(runtime: Runtime) -> dict[str, JobHandler]:
    from walletdesk.channels.email.adapter import email_settings_of

    return {EMAIL_ACK: SendAck(runtime, email_settings_of(runtime))}
