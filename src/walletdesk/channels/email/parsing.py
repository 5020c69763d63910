"""From the raw bytes of an email to what a ticket needs. Never raises, whatever arrives.

The visible reply (quoted history and signature cut) goes on the ticket; the full text
and sanitised HTML are kept beside it, and the raw message is stored as it came.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses

from walletdesk.channels.email import automatic as rfc3834
from walletdesk.channels.email.automatic import Bounce
from walletdesk.channels.email.charsets import decode_bytes, decode_header_value, decode_param
from walletdesk.channels.email.html import html_to_text, sanitize, without_quoted_history
from walletdesk.channels.email.quotes import visible_reply
from walletdesk.core.attachments.service import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_MESSAGE
from walletdesk.core.channels import Attachment

log = logging.getLogger(__name__)

MAX_DEPTH = 20
MAX_PARTS = 500
MAX_TEXT_CHARS = 100_000
MAX_REFERENCES = 50
# Message-IDs double as thread keys (tickets.thread_key holds 200 characters).
MAX_MESSAGE_ID_CHARS = 200
NO_CONTENT = "（邮件没有正文）(The email has no text.)"

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,2000}>")
_SCAFFOLDING = re.compile(r"^(?:--\S*|Content-[A-Za-z-]+:.*|\s+\S+=.*)$", re.IGNORECASE)
_MIME_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,40}/[a-z0-9!#$&^_.+-]{1,50}$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class _RawHeaders(Compat32):
    """Hands header values back exactly as parsed; charsets.py decodes them, leniently."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders(linesep="\r\n")


@dataclass
class ParsedEmail:
    message_id: str
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    reply_to: str = ""
    recipients: list[str] = field(default_factory=list)
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""  # the visible reply
    full_text: str = ""
    html: str | None = None  # sanitised, quoted history cut
    full_html: str | None = None  # sanitised
    attachments: list[Attachment] = field(default_factory=list)
    attachments_left_out: int = 0
    locale: str = "en"
    # Why no automatic reply may answer this message (RFC 3834), or None.
    automatic: str | None = None
    report_type: str | None = None  # multipart/report: delivery-status, disposition-notification…
    bounce: Bounce | None = None
    authentication_results: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first."""
        ids = list(self.in_reply_to)
        ids.extend(reversed(self.references))
        return list(dict.fromkeys(i for i in ids if i != self.message_id))


def normalize_message_id(value: str) -> str | None:
    """`<id@host>` as stored and compared; over-long ids become a stable hash of themselves."""
    match = _MESSAGE_ID.search(value)
    token = match.group() if match else value.strip()
    if not token or any(ch.isspace() for ch in token):
        return None
    if not token.startswith("<"):
        token = f"<{token}>"
    if len(token) > MAX_MESSAGE_ID_CHARS or not token.isprintable():
        return f"<{hashlib.sha256(token.encode('utf-8', 'surrogatepass')).hexdigest()}@long.id>"
    return token


def synthetic_message_id(raw: bytes) -> str:
    """For mail without a Message-ID: the same bytes delivered twice get the same id."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.walletdesk>"


def message_ids_in(value: str) -> list[str]:
    found = [normalize_message_id(token) for token in _MESSAGE_ID.findall(value)]
    return [i for i in found if i]


def parse_email(raw: bytes, *, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> ParsedEmail:
    try:
        message = message_from_bytes(raw, policy=_POLICY)
        return _parse(raw, message, max_attachment_bytes)
    except (RecursionError, MemoryError):
        return _unparseable(raw, "nested too deeply to read")
    except Exception as exc:  # the receiver must go on with the next message
        log.warning("could not parse an email (%s); keeping it as text", type(exc).__name__)
        return _unparseable(raw, type(exc).__name__)


def _header(message: Message, name: str) -> str:
    return decode_header_value(message.get(name))


def _raw_header(message: Message, name: str) -> str:
    value = message.get(name)
    return str(value) if value is not None else ""


def _parse(raw: bytes, message: Message, max_attachment_bytes: int) -> ParsedEmail:
    parsed = ParsedEmail(
        message_id=normalize_message_id(_raw_header(message, "Message-ID"))
        or synthetic_message_id(raw)
    )
    parsed.subject = _header(message, "Subject")[:1000]
    parsed.from_address, parsed.from_name = _first_address(message, "From")
    parsed.reply_to = _first_address(message, "Reply-To")[0]
    parsed.recipients = _all_addresses(message, ("To", "Cc", "Delivered-To", "X-Original-To"))
    parsed.in_reply_to = message_ids_in(_raw_header(message, "In-Reply-To"))[:MAX_REFERENCES]
    references = message_ids_in(" ".join(message.get_all("References") or []))
    if len(references) > MAX_REFERENCES:  # keep the root and the nearest ones
        references = references[:1] + references[-(MAX_REFERENCES - 1) :]
    parsed.references = references
    parsed.authentication_results = [
        str(v) for v in message.get_all("Authentication-Results") or []
    ][:20]
    parsed.defects = [type(d).__name__ for d in message.defects][:20]

    texts: list[str] = []
    htmls: list[str] = []
    _collect(message, parsed, texts, htmls, max_attachment_bytes)
    _set_bodies(parsed, texts, htmls)
    parsed.automatic = rfc3834.reason_not_to_answer(message)
    parsed.report_type = rfc3834.report_type(message)
    if rfc3834.looks_like_bounce(message, parsed.report_type, parsed.from_address):
        parsed.bounce = rfc3834.read_bounce(message, parsed.full_text)
    return parsed


def _first_address(message: Message, name: str) -> tuple[str, str]:
    pairs = _address_pairs(message, (name,))
    return pairs[0] if pairs else ("", "")


def _all_addresses(message: Message, names: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(address for address, _ in _address_pairs(message, names)))


def _address_pairs(message: Message, names: tuple[str, ...]) -> list[tuple[str, str]]:
    values: list[str] = []
    for name in names:
        values.extend(str(v) for v in message.get_all(name) or [])
    pairs: list[tuple[str, str]] = []
    # Addresses are split before the names are decoded: “=?GBK?B?...?=” may hide a comma.
    for display, address in getaddresses([v.replace("\r\n", " ") for v in values]):
        address = decode_header_value(address).strip().strip("<>").lower()
        if "@" in address and len(address) <= 320:
            pairs.append((address, decode_header_value(display)[:200]))
    return pairs[:100]


def _collect(
    root: Message,
    parsed: ParsedEmail,
    texts: list[str],
    htmls: list[str],
    max_attachment_bytes: int,
) -> None:
    """Walk the MIME tree without recursion, with depth and part limits."""
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            parsed.defects.append("TooManyParts")
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822" or content_type == "message/global":
            _add_attachment(part, parsed, max_attachment_bytes, attached_message=True)
            continue
        if content_type in rfc3834.REPORT_PART_TYPES:
            continue  # read by rfc3834.read_bounce, not a file for the ticket
        if part.is_multipart():
            if depth >= MAX_DEPTH:
                parsed.defects.append("NestedTooDeeply")
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(children) if not isinstance(child, str)
                )
            continue
        disposition = (part.get_content_disposition() or "").lower()
        has_name = bool(_filename(part))
        is_body = content_type in ("text/plain", "text/html") and disposition != "attachment"
        if is_body and (not has_name or disposition == "inline"):
            body = decode_bytes(_payload(part), part.get_content_charset())
            (texts if content_type == "text/plain" else htmls).append(body)
            continue
        _add_attachment(part, parsed, max_attachment_bytes)


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogateescape")
    return b""


def _filename(part: Message) -> str:
    value = part.get_param("filename", header="content-disposition")
    if value is None:
        value = part.get_param("name")
    if value is None or isinstance(value, tuple | str):
        return decode_param(value)[:255]
    return ""


def _add_attachment(
    part: Message, parsed: ParsedEmail, max_bytes: int, *, attached_message: bool = False
) -> None:
    if len(parsed.attachments) >= MAX_ATTACHMENTS_PER_MESSAGE:
        parsed.attachments_left_out += 1
        return
    if attached_message:
        inner = part.get_payload()
        data = b""
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                data = inner[0].as_bytes(policy=_POLICY)
            except Exception:
                data = b""
        name = _filename(part) or "attached-message.eml"
    else:
        data = _payload(part)
        name = _filename(part)
    if len(data) > max_bytes:
        parsed.attachments_left_out += 1
        return
    if not data and not name:
        return
    content_id = normalize_message_id(_raw_header(part, "Content-ID"))
    disposition = (part.get_content_disposition() or "").lower()
    inline = disposition != "attachment" and content_id is not None
    parsed.attachments.append(
        Attachment(
            filename=name or f"attachment-{len(parsed.attachments) + 1}",
            content_type=_content_type(part),
            data=data,
            inline=inline,
            content_id=content_id.strip("<>") if content_id else None,
        )
    )


def _set_bodies(parsed: ParsedEmail, texts: list[str], htmls: list[str]) -> None:
    raw_html = "\n".join(htmls) if htmls else None
    full_text = "\n\n".join(t.strip("\r\n") for t in texts).strip()
    if raw_html is not None:
        parsed.full_html = sanitize(raw_html)
        parsed.html = sanitize(without_quoted_history(raw_html))
    if not full_text and raw_html is not None:
        full_text = html_to_text(raw_html)
        visible = html_to_text(without_quoted_history(raw_html))
        visible = visible_reply(visible) if visible else ""
    else:
        visible = visible_reply(full_text) if full_text else ""
    parsed.full_text = _storable(full_text[:MAX_TEXT_CHARS])
    parsed.text = _storable(visible[:MAX_TEXT_CHARS])
    parsed.html = _storable(parsed.html) if parsed.html is not None else None
    parsed.full_html = _storable(parsed.full_html) if parsed.full_html is not None else None
    if not parsed.text and not parsed.attachments:
        parsed.text = parsed.subject or NO_CONTENT
    if parsed.attachments_left_out:
        parsed.text += (
            f"\n\n[{parsed.attachments_left_out} 个附件过大或过多，未单独保存，见原始邮件。"
            f" {parsed.attachments_left_out} attachment(s) too large or too many: "
            "kept only in the original email.]"
        )
    sample = f"{parsed.subject}\n{parsed.text[:2000]}"
    parsed.locale = "zh-CN" if _CJK.search(sample) else "en"


def _storable(text: str) -> str:
    """No NUL (PostgreSQL text refuses it) and no lone surrogates (not UTF-8)."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def _content_type(part: Message) -> str:
    declared = part.get_content_type()
    return declared if _MIME_TYPE.match(declared) else "application/octet-stream"


def _unparseable(raw: bytes, why: str) -> ParsedEmail:
    """The last resort: the message as text, so nothing is lost and nothing crashes."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if not body:
        head, _, body = raw.partition(b"\n\n")
    message_id = None
    for line in head.splitlines():
        if line.lower().startswith(b"message-id:"):
            message_id = normalize_message_id(line[11:].decode("ascii", errors="replace"))
            break
    # Without its structure, the MIME scaffolding (boundaries, part headers) is only noise.
    lines = decode_bytes(body[: MAX_TEXT_CHARS * 40]).splitlines()
    kept = [line for line in lines if not _SCAFFOLDING.match(line)]
    text = "\n".join(kept)[:MAX_TEXT_CHARS].strip() or NO_CONTENT
    parsed = ParsedEmail(message_id=message_id or synthetic_message_id(raw))
    parsed.text = parsed.full_text = _storable(text)
    parsed.defects = [f"Unparseable: {why}"]
    # Unreadable structure: do not let it trigger an automatic reply.
    parsed.automatic = "unparseable"
    parsed.locale = "zh-CN" if _CJK.search(text[:2000]) else "en"
    return parsed
