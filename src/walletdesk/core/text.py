"""Text a person typed, checked before it is stored.

PostgreSQL's text type cannot hold a NUL character, and UTF-8 cannot hold a lone surrogate
(JSON's "\\ud800" decodes to one). SQLite stores both, so without a check the same input
works on one backend and fails with a database error on the other. Input boundaries refuse
such text as a user mistake: schemas with `StoredText`, forms and frames with
`unstorable_reason`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["StoredText", "check_storable", "unstorable_reason"]


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored as it is, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def check_storable(text: str) -> str:
    """A pydantic validator: ValueError (a 422 with the field's name) for unstorable text."""
    reason = unstorable_reason(text)
    if reason is not None:
        raise ValueError(f"the text {reason}")
    return text


StoredText = Annotated[str, AfterValidator(check_storable)]
