"""Files sent in a chat: size and type limits, and the declared type checked against the bytes.

Chat uploads are strict (unlike email, where a mislabelled file is kept): a file whose
content is not what it claims, or not a type chat accepts, is refused with a clear
error and nothing is stored.
"""

from __future__ import annotations

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.core.attachments.service import check_declared_type, clean_filename, sniff_type
from walletdesk.core.channels import Attachment
from walletdesk.core.errors import InvalidInput


def checked_upload(
    settings: WebchatSettings, filename: str, declared_type: str, data: bytes
) -> Attachment:
    """The upload as an attachment for ingest(), or InvalidInput saying why not."""
    name = clean_filename(filename or "attachment")
    if not data:
        raise InvalidInput("file", f"{name} is empty")
    if len(data) > settings.max_attachment_bytes:
        limit_mib = settings.max_attachment_bytes / (1024 * 1024)
        raise InvalidInput("file", f"{name} is larger than {limit_mib:g} MiB")
    sniffed = sniff_type(data)
    check_declared_type(declared_type, sniffed)
    if sniffed not in settings.allowed_attachment_types:
        raise InvalidInput(
            "file",
            f"{name} is {sniffed}; chat accepts {', '.join(settings.allowed_attachment_types)}",
        )
    return Attachment(filename=name, content_type=declared_type or sniffed, data=data)
