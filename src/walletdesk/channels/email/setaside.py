"""Mail the IMAP poller cannot take (too large, refused): agents hear of it on a ticket.

Over SMTP the sending server gets our refusal and tells the sender; over IMAP nobody would.
So the message stays in the mailbox — unread, flagged, not moved — for a person to open,
and a notice built from its headers goes through ingest() like a customer's email: from
the sender when the headers name one, so it opens a ticket (or joins the ticket whose
number the subject carries) and an agent can answer by email. Its external id derives
from the Message-ID, so a message fetched again after a crash gives one notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletdesk.channels.email.parsing import parse_email
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.identities import normalize_email
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.core.ingest import IngestResult

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

# A notice without a usable sender belongs to the mailbox itself (a contact of its own).
MAILBOX_IDENTITY = "imap"


@dataclass(frozen=True, slots=True)
class SetAside:
    """Why one message was left in the mailbox, and where it is."""

    mailbox: str  # the poller's key: scheme://user@host:port/folder, no password
    uid: int
    reason_zh: str
    reason_en: str


def too_large(mailbox: str, uid: int, size: int, limit: int) -> SetAside:
    return SetAside(
        mailbox,
        uid,
        f"邮件过大：{size:,} 字节，上限 {limit:,} 字节",
        f"too large: {size:,} bytes, the limit is {limit:,}",
    )


def refused(mailbox: str, uid: int, why: str) -> SetAside:
    return SetAside(mailbox, uid, f"无法接收：{why}", f"refused: {why}")


def notice_for(headers: bytes, aside: SetAside) -> InboundMessage:
    """The ticket message telling agents about a message left in the mailbox."""
    parsed = parse_email(headers.rstrip(b"\r\n") + b"\r\n\r\n")
    sender: SenderIdentity
    try:
        sender = SenderIdentity("email", normalize_email(parsed.from_address), parsed.from_name)
        shown_from = f"{parsed.from_name} <{sender.value}>" if parsed.from_name else sender.value
    except InvalidInput:
        sender = SenderIdentity(MAILBOX_IDENTITY, aside.mailbox[:320], "IMAP mailbox")
        shown_from = parsed.from_address or "(none)"
    subject = parsed.subject or "(no subject)"
    text = (
        f"WalletDesk：邮箱 {aside.mailbox} 中来自 {shown_from} 的一封邮件未能接收"
        f"（{aside.reason_zh}）。原邮件仍在邮箱中，未读并已加星标（UID {aside.uid}），"
        "请在邮箱中查看并回复客户。\n"
        f"WalletDesk: an email from {shown_from} in the mailbox {aside.mailbox} could not be "
        f"taken in ({aside.reason_en}). It is still in the mailbox, unread and flagged "
        f"(UID {aside.uid}); open it there and answer the customer.\n\n"
        # No Message-ID here: its digits could read as some ticket's number (ingest looks for
        # them in the text); a number the customer put in the subject should count.
        f"主题 / Subject: {subject}"
    )
    return InboundMessage(
        channel="email",
        external_id=f"set-aside:{parsed.message_id}"[:300],
        sender=sender,
        text=text,
        thread_key=parsed.message_id,
        subject=subject,
        locale=parsed.locale,
    )


async def announce(runtime: Runtime, headers: bytes, aside: SetAside) -> IngestResult | None:
    """Put the notice on a ticket; None (logged) if even the notice cannot be stored."""
    log.warning("%s: UID %s left in the mailbox: %s", aside.mailbox, aside.uid, aside.reason_en)
    try:
        return await runtime.intake.ingest(notice_for(headers, aside))
    except InvalidInput as exc:
        log.error("%s: UID %s: no ticket for it either: %s", aside.mailbox, aside.uid, exc)
        return None
