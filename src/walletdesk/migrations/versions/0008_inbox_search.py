"""inbox on SQLite: a trigram full-text index of subjects; one assignee's tickets by recency

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

At 1,000,000 tickets (bench/inbox.py) a SQLite subject search read the whole table when few
subjects matched: 0.1-1.1 s. PostgreSQL answers it from the pg_trgm index of 0006; SQLite
gets an FTS5 trigram index of the same subjects, kept in step by triggers so that every way
of writing a ticket (ORM, Core, bulk loads, raw SQL) updates it. How the queries use it is
in walletdesk.core.tickets.search.

ix_tickets_assignee_recent has `status` second, so on SQLite "one assignee (or nobody), any
status" sorted all of that assignee's tickets: 47,000 unassigned ones took 75-120 ms.
(assignee_id, updated_at, id) hands them over in order. PostgreSQL needs neither: it walks
ix_tickets_recent for these (under 1 ms), and the same index in place of the old one made
"one assignee, one status" slower there (0.1 → 7 ms), so nothing changes on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only, so not in the models: the names are repeated in walletdesk.core.tickets.search
# and in migrations/env.py, which keeps them out of autogenerate (a migration must not import
# application code that may change).
FTS = "tickets_subject_fts"
TERMS = "tickets_subject_terms"
ASSIGNEE_INDEX = "ix_tickets_assignee_updated"

# What is indexed for a subject: ASCII letters lowered, as SQLite's LIKE compares them (its
# lower() is ASCII-only), with two U+0001 after the text so that every character starts a
# trigram and one- and two-character searches can find their trigrams by prefix.
INDEXED = "lower(coalesce({row}.subject, '')) || char(1, 1)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _require_trigram_tokenizer(bind)
    op.execute(f"CREATE INDEX {ASSIGNEE_INDEX} ON tickets (assignee_id, updated_at, id)")
    stats = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    if bind.exec_driver_sql(stats).first():
        # Someone ran ANALYZE: without statistics of its own the planner may take the new
        # index where the partial one on active tickets, which knows its few rows, is better.
        op.execute(f"ANALYZE {ASSIGNEE_INDEX}")
    # Contentless (content=''): the index keeps no copy of the subjects, only the trigrams.
    # case_sensitive 1 because the text is already folded exactly as LIKE folds it.
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5("
        "subject, tokenize = 'trigram case_sensitive 1', content = '', columnsize = 0)"
    )
    # Lists the indexed trigrams; searches shorter than a trigram look theirs up by prefix.
    op.execute(f"CREATE VIRTUAL TABLE {TERMS} USING fts5vocab({FTS}, 'row')")
    new, old = INDEXED.format(row="new"), INDEXED.format(row="old")
    op.execute(
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON tickets BEGIN "
        f"INSERT INTO {FTS} (rowid, subject) VALUES (new.id, {new}); END"
    )
    # A contentless index forgets a row only when told exactly what was indexed for it.
    op.execute(
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON tickets BEGIN "
        f"INSERT INTO {FTS} ({FTS}, rowid, subject) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF id, subject ON tickets "
        "WHEN old.id IS NOT new.id OR old.subject IS NOT new.subject BEGIN "
        f"INSERT INTO {FTS} ({FTS}, rowid, subject) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {FTS} (rowid, subject) VALUES (new.id, {new}); END"
    )
    op.execute(
        f"INSERT INTO {FTS} (rowid, subject) SELECT id, {INDEXED.format(row='tickets')} "
        "FROM tickets"
    )
    op.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('optimize')")


def _require_trigram_tokenizer(bind: Connection) -> None:
    version = str(bind.exec_driver_sql("SELECT sqlite_version()").scalar())
    options = {str(row[0]) for row in bind.exec_driver_sql("PRAGMA compile_options")}
    if tuple(int(part) for part in version.split(".")[:2]) < (3, 34) or (
        "ENABLE_FTS5" not in options
    ):
        # The same one-line refusal as env.py's: nothing to fix in WalletDesk, only the build.
        raise SystemExit(
            f"the inbox's subject search needs SQLite 3.34 or newer with FTS5; this Python's "
            f"sqlite3 module uses SQLite {version}"
            + ("" if "ENABLE_FTS5" in options else " without FTS5")
            + " (a Python from uv or python.org brings a recent one)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {FTS}_{trigger}")
    op.execute(f"DROP TABLE {TERMS}")
    op.execute(f"DROP TABLE {FTS}")
    op.execute(f"DROP INDEX {ASSIGNEE_INDEX}")
