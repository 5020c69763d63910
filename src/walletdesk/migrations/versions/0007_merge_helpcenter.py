"""merge the help-center branch with the channel and inbox-index branch

Revision ID: 0007
Revises: 0003, 0006
Create Date: 2026-11-26

The help center (0003) and the email/webchat/index migrations (0004-0006) were written side
by side from 0002; they touch different tables, so merging needs no steps of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | Sequence[str] | None = ("0003", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
