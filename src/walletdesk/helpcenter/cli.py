"""`walletdesk kb …`: import and export help-center articles as JSONL."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.errors import DomainError
from walletdesk.db import Database
from walletdesk.helpcenter.models import LOCALES

T = TypeVar("T")

kb_app = typer.Typer(
    help="Manage help-center articles (JSONL import and export).", no_args_is_help=True
)


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database; user errors exit cleanly."""
    # walletdesk.cli registers this module, so its helpers are imported when a command runs.
    from walletdesk.cli import _database_url, load_settings, run_async

    url = _database_url(load_settings())

    @run_async
    async def run() -> T:
        db = Database(url)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return run()


@kb_app.command("import")
def kb_import(file: Annotated[Path, typer.Argument(help="JSONL file: one article a line")]) -> None:
    """Create or update the articles of FILE: all or nothing, in one transaction."""
    from walletdesk.cli import fail
    from walletdesk.core.actors import SYSTEM
    from walletdesk.helpcenter.transfer import ImportFileError, import_articles, read_articles_file

    try:
        articles = read_articles_file(file)
    except DomainError as exc:
        raise fail(f"{file}: {exc}") from None

    async def work(session: AsyncSession) -> str:
        try:
            return (await import_articles(session, SYSTEM, articles)).summary()
        except ImportFileError as exc:  # found while writing; the transaction rolls back
            raise DomainError(f"{file}: {exc}") from None

    typer.echo(_in_transaction(work))


@kb_app.command("seed")
def kb_seed() -> None:
    """Load the articles shipped with WalletDesk (updating them if already there)."""
    from walletdesk.helpcenter.transfer import seed_default_articles

    async def work(session: AsyncSession) -> str:
        return (await seed_default_articles(session)).summary()

    typer.echo(_in_transaction(work))


@kb_app.command("export")
def kb_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
    locale: Annotated[str | None, typer.Option(help="Only this locale (zh-CN or en)")] = None,
) -> None:
    """Write every article (drafts included) as JSONL, in the format `kb import` reads."""
    from walletdesk.cli import fail
    from walletdesk.helpcenter.transfer import export_articles

    if locale is not None and locale not in LOCALES:
        raise fail(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")

    async def work(session: AsyncSession) -> list[str]:
        return await export_articles(session, locale)

    lines = _in_transaction(work)
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"exported {len(lines)} articles", err=True)
