"""Articles in and out as JSONL, one article a line:
{"slug", "locale", "title", "body", "category", "keywords"?, "questions"?, "status"?,
"translation_group"?}. An import is checked whole before anything is written, and written
in the caller's one transaction: a bad line means nothing is imported. Each article keeps
its line number, so a problem found only while writing names its line too."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import SYSTEM, Actor
from walletdesk.core.errors import DomainError, PermissionDenied
from walletdesk.helpcenter.queries import list_articles, questions_of
from walletdesk.helpcenter.schemas import ArticleIn
from walletdesk.helpcenter.service import TranslationGroupTaken, check_can_edit, save_article

DEFAULT_ARTICLES = Path(__file__).parent / "content" / "default_articles.jsonl"


class ImportFileError(DomainError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One article of an import file and the line it is on."""

    line: int
    article: ArticleIn


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: int = 0
    locales: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        per_locale = ", ".join(f"{n} {loc}" for loc, n in sorted(self.locales.items()))
        return (
            f"imported {self.total} articles ({per_locale or 'none'}): {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged; "
            f"{self.categories_created} new categories"
        )


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "line"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    more = len(error.errors()) - 1
    return f"{where}: {message}" + (f" (and {more} more problems)" if more else "")


def parse_articles(lines: Iterable[str]) -> list[ImportLine]:
    """Every article of a JSONL file, or an ImportFileError naming the first bad line.

    Within the file, a slug is used once per locale and a translation group holds one
    article per locale (the database is checked when the articles are written)."""
    articles: list[ImportLine] = []
    seen: dict[tuple[str, str], int] = {}
    groups: dict[tuple[str, str], tuple[int, str]] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            value: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFileError(
                number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(value, dict):
            raise ImportFileError(number, "each line must be one JSON object")
        try:
            article = ArticleIn.model_validate(value)
        except ValidationError as exc:
            raise ImportFileError(number, _describe(exc)) from None
        key = (article.locale, article.slug)
        if key in seen:
            raise ImportFileError(
                number,
                f"duplicate slug {article.slug!r} in {article.locale} (first on line {seen[key]})",
            )
        seen[key] = number
        if article.translation_group:
            group = (article.locale, article.translation_group)
            if group in groups:
                first, other = groups[group]
                raise ImportFileError(
                    number,
                    f"translation_group {article.translation_group!r} already holds the "
                    f"{article.locale} article {other!r} (line {first}); a translation group "
                    "links one article per language",
                )
            groups[group] = (number, article.slug)
        articles.append(ImportLine(number, article))
    return articles


def read_articles_file(path: Path) -> list[ImportLine]:
    try:
        # utf-8-sig: a byte-order mark (Excel and Notepad write one) is not part of line 1.
        with path.open(encoding="utf-8-sig") as handle:
            return parse_articles(handle)
    except UnicodeDecodeError as exc:
        raise DomainError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DomainError(f"cannot read {path}: {exc.strerror}") from None


async def import_articles(
    session: AsyncSession, actor: Actor, lines: Sequence[ImportLine]
) -> ImportResult:
    """Create or update every article, in file order, inside the caller's transaction.

    What is refused while writing (a translation group an article in the database already
    holds, text the database will not store) is an ImportFileError naming the line; the
    caller's rollback then leaves everything as it was.
    """
    check_can_edit(actor)
    line_of = {(item.article.locale, item.article.slug): item.line for item in lines}
    result = ImportResult()
    for position, item in enumerate(lines, 1):
        article = item.article
        try:
            saved = await save_article(session, actor, article, position=position, source="import")
        except TranslationGroupTaken as exc:
            where = line_of.get((exc.locale, exc.other))
            also = f" (line {where})" if where is not None else ""
            raise ImportFileError(item.line, f"{exc}{also}") from None
        except PermissionDenied:
            raise
        except DomainError as exc:
            raise ImportFileError(item.line, str(exc)) from None
        except (OperationalError, InterfaceError):
            raise  # the database, not the line: unreachable or busy
        except StatementError as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise
            problem = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            raise ImportFileError(item.line, f"the database refused it: {problem}") from None
        except UnicodeEncodeError as exc:  # SQLite's driver, before the statement runs
            raise ImportFileError(item.line, f"the database refused it: {exc.reason}") from None
        setattr(result, saved.outcome, getattr(result, saved.outcome) + 1)
        result.categories_created += int(saved.category_created)
        result.locales[article.locale] = result.locales.get(article.locale, 0) + 1
    return result


async def export_articles(session: AsyncSession, locale: str | None = None) -> list[str]:
    """Every article (drafts and archived ones too) as JSONL lines that import back."""
    rows = await list_articles(session, locale=locale)
    questions = await questions_of(session, [article.id for article, _ in rows])
    lines = []
    for article, category in rows:
        record = {
            "slug": article.slug,
            "locale": article.locale,
            "title": article.title,
            "body": article.body_md,
            "category": category.name,
            "keywords": list(article.keywords),
            "questions": questions.get(article.id, []),
            "status": article.status,
            "translation_group": article.translation_group,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines


async def seed_default_articles(session: AsyncSession) -> ImportResult:
    """Load the articles shipped with WalletDesk (the demo calls this); safe to repeat."""
    return await import_articles(session, SYSTEM, read_articles_file(DEFAULT_ARTICLES))
