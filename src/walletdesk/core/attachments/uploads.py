"""Files an agent sends with a reply (console form or API): read, checked, stored with it.

The limits are the attachments module's own (per file, files per message) plus one for a
reply's files together: they travel in one email, and relays commonly refuse mail much
over 25 MiB. Everything is checked before anything is stored, so a refused file leaves
no reply behind; the files are then stored in the reply's own transaction, where the
outbox job that delivers the reply also reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from walletdesk.core.attachments.service import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_MESSAGE,
    check_declared_type,
    clean_filename,
    sniff_type,
    store_attachment,
)
from walletdesk.core.attachments.storage import AttachmentStore
from walletdesk.core.channels import Attachment as FileIn
from walletdesk.core.errors import InvalidInput

MAX_REPLY_FILES_BYTES = MAX_ATTACHMENT_BYTES
FIELD = "files"


def check_upload(filename: str, declared_type: str, data: bytes) -> FileIn:
    """One file as store_attachment will take it strictly, or InvalidInput saying why not."""
    name = clean_filename(filename or "attachment")
    if not data:
        raise InvalidInput(FIELD, f"{name} is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(FIELD, f"{name} is larger than {MAX_ATTACHMENT_BYTES} bytes")
    try:
        check_declared_type(declared_type, sniff_type(data))
    except InvalidInput as exc:
        raise InvalidInput(FIELD, f"{name}: {exc.message}") from None
    return FileIn(filename=name, content_type=declared_type, data=data)


def _chosen(values: Iterable[object]) -> list[UploadFile]:
    # A browser sends an empty, nameless part for a file input left empty.
    return [v for v in values if isinstance(v, UploadFile) and (v.filename or v.size)]


async def read_uploads(values: Iterable[object]) -> list[FileIn]:
    """The files of a multipart form's `files` fields, checked; other values are ignored."""
    uploads = _chosen(values)
    if len(uploads) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise InvalidInput(FIELD, f"at most {MAX_ATTACHMENTS_PER_MESSAGE} files per message")
    files: list[FileIn] = []
    total = 0
    for upload in uploads:
        # One byte over the limit is enough to refuse; never read a huge part whole.
        data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
        total += len(data)
        if total > MAX_REPLY_FILES_BYTES:
            raise InvalidInput(
                FIELD, f"the files together are larger than {MAX_REPLY_FILES_BYTES} bytes"
            )
        files.append(check_upload(upload.filename or "", upload.content_type or "", data))
    return files


async def attach_files(
    session: AsyncSession, store: AttachmentStore, message_id: int, files: Sequence[FileIn]
) -> list[int]:
    """Store checked files on a message in the caller's transaction; their ids, in order."""
    return [
        await store_attachment(
            session,
            store,
            message_id=message_id,
            filename=file.filename,
            declared_type=file.content_type,
            data=file.data,
            strict_type=True,
        )
        for file in files
    ]
