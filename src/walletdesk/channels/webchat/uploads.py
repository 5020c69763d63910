"""Files sent in a chat: size and type limits, the declared type checked against the bytes.

Chat uploads are strict (unlike email, where a mislabelled file is kept): a file whose
content is not the type it declares (a PNG sent as a PDF, text sent as an image), or not a
type chat accepts, is refused with a clear error and nothing is stored. A request body is
read only up to what an acceptable upload can need (`capped`), whether or not the client
declared its length.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import Message

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.protocol import ChatInvalid
from walletdesk.core.attachments.service import clean_filename, sniff_type
from walletdesk.core.channels import Attachment
from walletdesk.core.text import unstorable_reason

# Multipart framing, the token, the client id and the text's UTF-8 around the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024

# A declared type that says nothing about the content: the bytes decide.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Other names browsers and systems give the types chat accepts.
TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
}


class BodyTooLarge(Exception):
    """The request body went past its limit; what was read so far is dropped."""


def upload_body_limit(settings: WebchatSettings) -> int:
    """The largest upload request body that can hold an acceptable file and text."""
    return settings.max_attachment_bytes + settings.max_text_chars * 4 + FORM_OVERHEAD_BYTES


def declared_length(request: Request) -> int:
    """The Content-Length the client sent, or 0 (none, or not a number: the cap decides)."""
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return 0


def capped(request: Request, limit: int) -> Request:
    """The same request, whose body raises BodyTooLarge once more than `limit` bytes came.

    The Content-Length check refuses an honest oversized upload before its body is read;
    this one stops a chunked body (no Content-Length) or a lying one at the limit.
    """
    receive = request.receive
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return Request(request.scope, counted)


def bad_form(exc: Exception) -> dict[str, str]:
    """The answer to a body that is not a multipart form we can read (Starlette's refusal)."""
    detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
    return {"error": f"not a valid upload form: {detail}", "code": "bad_form"}


def too_large(settings: WebchatSettings, name: str) -> ChatInvalid:
    limit_mib = settings.max_attachment_bytes / (1024 * 1024)
    return ChatInvalid("too_large", "file", f"{name} is larger than {limit_mib:g} MiB")


def checked_text(settings: WebchatSettings, text: str) -> str:
    """A message's text sent with a file: refused (never cut) past the chat's limit."""
    if len(text) > settings.max_text_chars:
        raise ChatInvalid("too_large", "text", f"at most {settings.max_text_chars} characters")
    reason = unstorable_reason(text)
    if reason is not None:
        raise ChatInvalid("bad_field", "text", f"the text {reason}")
    return text


def normalised_type(content_type: str) -> str:
    plain = content_type.split(";", 1)[0].strip().lower()
    return TYPE_ALIASES.get(plain, plain)


def checked_upload(
    settings: WebchatSettings, filename: str, declared_type: str, data: bytes
) -> Attachment:
    """The upload as an attachment for ingest(), or ChatInvalid saying why not.

    Codes: `too_large` past the size limit, `bad_file` for an empty file, bytes that are
    not the declared type, or a type chat does not accept. The file is stored under the
    type its bytes have.
    """
    name = clean_filename(filename or "attachment")
    if not data:
        raise ChatInvalid("bad_file", "file", f"{name} is empty")
    if len(data) > settings.max_attachment_bytes:
        raise too_large(settings, name)
    sniffed = sniff_type(data)
    declared = normalised_type(declared_type)
    allowed = settings.allowed_attachment_types
    mismatch = ChatInvalid(
        "bad_file", "file", f"{name}: declared {declared} but the content is {sniffed}"
    )
    # A file that claims a type chat takes is judged on that claim (an "image" that is
    # HTML); one whose bytes chat does not take at all is told what chat takes.
    if declared in allowed and declared != sniffed:
        raise mismatch
    if sniffed not in allowed:
        raise ChatInvalid(
            "bad_file", "file", f"{name} is {sniffed}; chat accepts {', '.join(allowed)}"
        )
    if declared not in UNDECLARED and declared != sniffed:
        raise mismatch
    return Attachment(filename=name, content_type=sniffed, data=data)
