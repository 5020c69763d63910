"""Building the emails we send: agents' replies and acknowledgements.

Everything goes through email.message.EmailMessage under the SMTP policy, which encodes
non-ASCII headers and refuses a header value with a line break; subjects and names are
also stripped of control characters first, so text an agent types can never add a header.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from walletdesk.channels.email.html import sanitize
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.db import utcnow

# Bodies go out base64 or quoted-printable, so a relay without 8BITMIME passes them unchanged.
_POLICY = SMTP.clone(cte_type="7bit")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|sv|回复|答复|回覆|转发)\s*[:：]\s*)+", re.I)
MAX_SUBJECT_CHARS = 250


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """Text safe for a header: no line breaks or control characters, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def stable_message_id(key: str, ticket_number: str, domain: str) -> str:
    """The same key always gives the same Message-ID, so a retried send is recognisably one."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}.{ticket_number}@{domain}>"


def reply_subject(ticket_number: str, subject: str) -> str:
    tag = f"[#{ticket_number}]"
    subject = _REPLY_PREFIX.sub("", one_line(subject)).replace(tag, "").strip()
    return one_line(f"Re: {tag} {subject}".rstrip())


def text_to_html(text: str) -> str:
    escaped = html_lib.escape(text).replace("\n", "<br>\n")
    return f'<div style="font-family:sans-serif;white-space:normal">{escaped}</div>'


def _base(
    settings: EmailSettings,
    *,
    to: str,
    to_name: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["From"] = Address(one_line(settings.mail_from_name, 100), addr_spec=settings.mail_from)
    message["To"] = Address(one_line(to_name, 100), addr_spec=to)
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    return message


def build_reply(
    settings: EmailSettings,
    *,
    to: str,
    to_name: str,
    ticket_number: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    files: Sequence[OutgoingFile] = (),
) -> EmailMessage:
    """An agent's reply: text and HTML alternatives, the agent's files, threading headers."""
    message = _base(
        settings,
        to=to,
        to_name=to_name,
        subject=reply_subject(ticket_number, subject),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    message["X-WalletDesk-Ticket"] = ticket_number
    message.set_content(text)
    message.add_alternative(sanitize(html) if html else text_to_html(text), subtype="html")
    for file in files:
        maintype, _, subtype = file.content_type.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            file.data, maintype=maintype, subtype=subtype, filename=one_line(file.filename, 200)
        )
    return message


_ACK_ARTICLES = {
    "zh-CN": "这些帮助文章也许已经能解答您的问题：\n",
    "en": "These help articles may already answer your question:\n",
}

_ACK = {
    "zh-CN": (
        "[#{number}] 我们已收到您的邮件",
        "您好{name}：\n\n"
        "我们已收到您的邮件，工单号为 {number}。我们会在{reply_time}回复您。\n"
        "如需补充信息，请直接回复本邮件，并保留邮件标题中的工单号。\n\n"
        "{articles}"
        "安全提示：我们绝不会向您索要登录密码、支付密码、短信验证码或助记词。\n\n"
        "{team}",
    ),
    "en": (
        "[#{number}] We have received your email",
        "Hello{name},\n\n"
        "We have received your email; your ticket number is {number}. "
        "We will reply {reply_time}.\n"
        "To add anything, reply to this email and keep the ticket number in the subject.\n\n"
        "{articles}"
        "Security note: we will never ask for your login or payment password, an SMS code "
        "or your recovery phrase.\n\n"
        "{team}",
    ),
}


def build_ack(
    settings: EmailSettings,
    *,
    to: str,
    to_name: str,
    ticket_number: str,
    original_subject: str,
    locale: str,
    message_id: str,
    in_reply_to: str,
    references: Sequence[str],
    articles: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """The acknowledgement: ticket number, expected reply time and help articles that may
    already answer (title, link), marked as automatic."""
    language = "zh-CN" if locale.lower().startswith("zh") else "en"
    subject_template, body_template = _ACK[language]
    reply_time = settings.ack_reply_time_zh if language == "zh-CN" else settings.ack_reply_time_en
    name = one_line(to_name, 60)
    greeting_name = (f" {name}" if language == "en" else name) if name else ""
    subject = subject_template.format(number=ticket_number)
    if original_subject:
        subject = f"{subject}: {one_line(original_subject, 150)}"
    message = _base(
        settings,
        to=to,
        to_name=to_name,
        subject=one_line(subject),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    # RFC 3834: marks this as an automatic reply; Exchange's header asks its
    # auto-responders (out of office) not to answer it.
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-WalletDesk-Ticket"] = ticket_number
    text = body_template.format(
        name=greeting_name,
        number=ticket_number,
        reply_time=reply_time,
        team=one_line(settings.mail_from_name, 100),
        articles=(
            _ACK_ARTICLES[language]
            + "".join(f"- {one_line(title, 120)}: {url}\n" for title, url in articles)
            + "\n"
        )
        if articles
        else "",
    )
    message.set_content(text)
    message.add_alternative(text_to_html(text), subtype="html")
    return message
