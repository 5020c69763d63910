"""Text PostgreSQL cannot store is a client's mistake (422), even where no schema caught it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from walletdesk.core.text import unstorable_reason
from walletdesk.db import Database
from walletdesk.http.errors import _unstorable_text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("冻结\x00", "contains a NUL character"),
        ("到账\ud800", "is not valid Unicode (a lone surrogate)"),
        ("普通的一句话 plain", None),
        ("tab\tand\nnewline", None),
    ],
)
def test_what_cannot_be_stored_is_named(value: str, reason: str | None) -> None:
    assert unstorable_reason(value) == reason


@pytest.mark.parametrize("value", ["冻结\x00", "到账\ud800"])
async def test_postgres_refusals_of_unstorable_text_are_recognised(
    postgres_url: str, value: str
) -> None:
    db = Database(postgres_url)
    try:
        with pytest.raises((DBAPIError, UnicodeEncodeError)) as refused:
            async with db.transaction() as session:
                await session.execute(text("SELECT CAST(:v AS text)"), {"v": value})
        assert _unstorable_text(refused.value)
        # A lost connection is no bad text: it stays a 503.
        with pytest.raises(DBAPIError) as other:
            async with db.transaction() as session:
                await session.execute(text("SELECT CAST(:v AS integer)"), {"v": "abc"})
        assert not _unstorable_text(other.value)
    finally:
        await db.dispose()
