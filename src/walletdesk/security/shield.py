"""The secret shield: the ingest step that redacts secrets customers paste.

Today it passes text through unchanged; the wallet-security issue fills it with card
numbers, ID numbers, recovery phrases and private keys. It runs before anything is
stored or shown, so callers only ever hold the shielded text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shielded:
    text: str
    redactions: int = 0


def shield_text(text: str) -> Shielded:
    return Shielded(text)
