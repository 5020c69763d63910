"""Files sent in a chat: size and type limits, and the declared type checked against the bytes.

Chat uploads are strict (unlike email, where a mislabelled file is kept): a file whose
content is not what it claims, or not a type chat accepts, is refused with a clear
error and nothing is stored.
"""

from __future__ import annotations

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.protocol import ChatInvalid
from walletdesk.core.attachments.service import check_declared_type, clean_filename, sniff_type
from walletdesk.core.channels import Attachment
from walletdesk.core.errors import InvalidInput

# Multipart framing, the token, the client id and the text's UTF-8 around the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_body_limit(settings: WebchatSettings) -> int:
    """The largest upload request body that can hold an acceptable file and text."""
    return settings.max_attachment_bytes + settings.max_text_chars * 4 + FORM_OVERHEAD_BYTES


def too_large(settings: WebchatSettings, name: str) -> ChatInvalid:
    limit_mib = settings.max_attachment_bytes / (1024 * 1024)
    return ChatInvalid("too_large", "file", f"{name} is larger than {limit_mib:g} MiB")


def checked_upload(
    settings: WebchatSettings, filename: str, declared_type: str, data: bytes
) -> Attachment:
    """The upload as an attachment for ingest(), or InvalidInput saying why not.

    Codes: `too_large` past the size limit, `bad_file` for an empty file, a type chat does
    not accept, or bytes that contradict the declared type.
    """
    name = clean_filename(filename or "attachment")
    if not data:
        raise ChatInvalid("bad_file", "file", f"{name} is empty")
    if len(data) > settings.max_attachment_bytes:
        raise too_large(settings, name)
    sniffed = sniff_type(data)
    try:
        check_declared_type(declared_type, sniffed)
    except InvalidInput as exc:
        raise ChatInvalid("bad_file", "file", exc.message) from None
    if sniffed not in settings.allowed_attachment_types:
        raise ChatInvalid(
            "bad_file",
            "file",
            f"{name} is {sniffed}; chat accepts {', '.join(settings.allowed_attachment_types)}",
        )
    return Attachment(filename=name, content_type=declared_type or sniffed, data=data)
