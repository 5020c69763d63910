"""JSONL import and export: round trip, updates, and bad files that import nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import make_agent, unique
from walletdesk.cli import app as cli_app
from walletdesk.core.actors import SYSTEM
from walletdesk.core.errors import PermissionDenied
from walletdesk.core.tickets.numbers import MAX_LENGTH, MIN_LENGTH, is_valid
from walletdesk.db import Database
from walletdesk.helpcenter.queries import get_article, questions_of
from walletdesk.helpcenter.schemas import ArticleIn
from walletdesk.helpcenter.transfer import (
    DEFAULT_ARTICLES,
    ImportFileError,
    ImportLine,
    export_articles,
    import_articles,
    parse_articles,
    read_articles_file,
)
from walletdesk.settings import get_settings


def line(**fields: object) -> str:
    base: dict[str, object] = {
        "slug": unique("imp-"),
        "locale": "en",
        "title": "Title",
        "body": "Body",
        "category": "Imported",
    }
    base.update(fields)
    return json.dumps(base, ensure_ascii=False)


def test_broken_json_names_the_line() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_articles([line(), "", '{"slug": "x", "locale": ', line()])
    assert caught.value.line == 3
    assert str(caught.value).startswith("line 3: not valid JSON")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (line(slug="dup-slug"), "duplicate slug 'dup-slug' in en (first on line 1)"),
        (line(locale="fr"), "locale: unknown locale 'fr'"),
        (line(slug="Not A Slug"), "slug: String should match pattern"),
        (line(title=""), "title: String should have at least 1 character"),
        ('["a list"]', "each line must be one JSON object"),
        (line(extra="field"), "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_lines_are_refused_with_their_number(bad: str, message: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_articles([line(slug="dup-slug"), bad])
    assert caught.value.line == 2
    assert message in str(caught.value)


async def test_import_creates_updates_and_exports_the_same(db: Database) -> None:
    slug_en, slug_zh = unique("rt-"), unique("rt-")
    category = unique("Round trip ")
    lines = [
        line(slug=slug_en, category=category, keywords=["a", "b"], questions=["q one?"]),
        line(slug=slug_zh, locale="zh-CN", title="标题", body="正文", category=unique("分类")),
    ]
    async with db.transaction() as session:
        result = await import_articles(session, SYSTEM, parse_articles(lines))
    assert (result.created, result.updated, result.categories_created) == (2, 0, 2)
    async with db.transaction() as session:
        exported = [json.loads(x) for x in await export_articles(session)]
    mine = {e["slug"]: e for e in exported if e["slug"] in (slug_en, slug_zh)}
    assert mine[slug_en]["keywords"] == ["a", "b"]
    assert mine[slug_en]["questions"] == ["q one?"]
    assert mine[slug_zh]["locale"] == "zh-CN" and mine[slug_zh]["title"] == "标题"
    # Importing the export changes nothing; changing a line updates just that article.
    again = [json.dumps(mine[slug_en]), json.dumps({**mine[slug_zh], "title": "新标题"})]
    async with db.transaction() as session:
        result = await import_articles(session, SYSTEM, parse_articles(again))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    async with db.transaction() as session:
        article, _ = await get_article(session, "zh-CN", slug_zh)
    assert (article.title, article.revision) == ("新标题", 2)


async def test_agents_cannot_import(db: Database) -> None:
    agent = await make_agent(db, "agent")
    with pytest.raises(PermissionDenied):
        async with db.transaction() as session:
            await import_articles(session, agent.actor, parse_articles([line()]))


async def test_reimport_keeps_questions_agents_added_from_tickets(db: Database) -> None:
    from walletdesk.helpcenter.service import add_similar_question

    slug = unique("keep-")
    async with db.transaction() as session:
        await import_articles(session, SYSTEM, parse_articles([line(slug=slug, questions=["a"])]))
    agent = await make_agent(db, "agent")
    async with db.transaction() as session:
        await add_similar_question(session, agent.actor, "en", slug, "from a ticket", "3718281826")
    async with db.transaction() as session:
        await import_articles(session, SYSTEM, parse_articles([line(slug=slug, questions=["b"])]))
    async with db.transaction() as session:
        article, _ = await get_article(session, "en", slug)
        questions = (await questions_of(session, [article.id]))[article.id]
    assert sorted(questions) == ["b", "from a ticket"]
    async with db.transaction() as session:  # and the same file again is no change at all
        result = await import_articles(
            session, SYSTEM, parse_articles([line(slug=slug, questions=["b"])])
        )
    assert result.unchanged == 1


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WALLETDESK_DATABASE_URL", db_url)
    monkeypatch.setenv("WALLETDESK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    return CliRunner()


def test_cli_import_export_round_trip(cli_env: CliRunner, tmp_path: Path) -> None:
    slug = unique("cli-")
    source = tmp_path / "articles.jsonl"
    source.write_text(line(slug=slug, title="CLI title") + "\n", encoding="utf-8")
    imported = cli_env.invoke(cli_app, ["kb", "import", str(source)])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 articles (1 en): 1 created" in imported.output
    out = tmp_path / "export.jsonl"
    exported = cli_env.invoke(cli_app, ["kb", "export", "--locale", "en", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "exported" in exported.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert any(r["slug"] == slug and r["title"] == "CLI title" for r in rows)


def test_cli_bad_file_imports_nothing(cli_env: CliRunner, tmp_path: Path) -> None:
    good, later = unique("cli-good-"), unique("cli-later-")
    source = tmp_path / "bad.jsonl"
    source.write_text(
        "\n".join([line(slug=good), line(slug=later), line(slug=good)]) + "\n", encoding="utf-8"
    )
    result = cli_env.invoke(cli_app, ["kb", "import", str(source)])
    assert result.exit_code == 1
    assert f"line 3: duplicate slug '{good}'" in result.output
    assert "Traceback" not in result.output
    exported = cli_env.invoke(cli_app, ["kb", "export"])
    assert good not in exported.output and later not in exported.output


def test_cli_missing_file_and_unknown_locale(cli_env: CliRunner, tmp_path: Path) -> None:
    missing = cli_env.invoke(cli_app, ["kb", "import", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    locale = cli_env.invoke(cli_app, ["kb", "export", "--locale", "fr"])
    assert locale.exit_code == 1 and "unknown locale 'fr'" in locale.output


def test_shipped_content_is_valid_and_covers_both_locales() -> None:
    lines = parse_articles(DEFAULT_ARTICLES.read_text(encoding="utf-8").splitlines())
    articles = [item.article for item in lines]
    per_locale = {loc: {a.slug for a in articles if a.locale == loc} for loc in ("zh-CN", "en")}
    assert len(per_locale["zh-CN"]) >= 30 and len(per_locale["en"]) >= 30
    assert per_locale["zh-CN"] == per_locale["en"]  # every article has its translation
    assert all(a.questions for a in articles)


def test_shipped_content_shows_ticket_numbers_as_they_are() -> None:
    """Ticket numbers are 10–12 digits (core/tickets/numbers.py); no article may show another
    format, and the ticket-number article shows one in each locale."""
    articles = [
        item.article for item in parse_articles(DEFAULT_ARTICLES.read_text("utf-8").splitlines())
    ]
    made_up = re.compile(r"\b[A-Z]{2,}-?\d{4,}|#[A-Z]+-?\d")
    assert [a.slug for a in articles if made_up.search(a.body)] == []
    explained = [a for a in articles if a.slug == "ticket-number"]
    assert {a.locale for a in explained} == {"zh-CN", "en"}
    for article in explained:
        examples = set(re.findall(r"(?<!\d)\d{6,}(?!\d)", article.body))
        assert examples, article.locale
        for number in examples:
            assert MIN_LENGTH <= len(number) <= MAX_LENGTH and number[0] != "0"
            # Only an example: its check digit is wrong, so quoting it finds nobody's ticket.
            assert not is_valid(number)
        assert f"[#{min(examples)}]" in article.body  # as the email subject shows it


def test_a_translation_group_twice_in_one_locale_names_both_lines() -> None:
    group = unique("grp-")
    other_locale = line(locale="zh-CN", translation_group=group)
    first, second = line(slug=unique("g1-"), translation_group=group), line(translation_group=group)
    with pytest.raises(ImportFileError) as caught:
        parse_articles([other_locale, first, "", second])
    assert caught.value.line == 4
    message = str(caught.value)
    assert message.startswith(f"line 4: translation_group '{group}' already holds the en article")
    assert "(line 2)" in message and json.loads(first)["slug"] in message
    # One article per locale is what a group is for: zh-CN and en share it.
    assert len(parse_articles([other_locale, first])) == 2


async def test_a_group_taken_in_the_database_is_refused_with_the_line(db: Database) -> None:
    group = unique("grp-")
    taken = line(slug=unique("taken-"), translation_group=group)
    async with db.transaction() as session:
        await import_articles(session, SYSTEM, parse_articles([taken]))
    new_slug = unique("rival-")
    with pytest.raises(ImportFileError) as caught:
        async with db.transaction() as session:
            await import_articles(
                session,
                SYSTEM,
                parse_articles(
                    [line(locale="zh-CN"), line(slug=new_slug, translation_group=group)]
                ),
            )
    assert caught.value.line == 2
    assert str(caught.value) == (
        f"line 2: translation_group: '{group}' already holds the en article "
        f"'{json.loads(taken)['slug']}'; a translation group links one article per language"
    )
    async with db.transaction() as session:  # nothing of that file was written
        exported = "\n".join(await export_articles(session))
    assert new_slug not in exported


async def test_a_group_taken_by_an_earlier_line_names_it(db: Database) -> None:
    # The first article's group is its slug (no translation_group given); the second names it.
    first = unique("first-")
    lines = [line(slug=first), line(locale="zh-CN"), line(translation_group=first)]
    with pytest.raises(ImportFileError) as caught:
        async with db.transaction() as session:
            await import_articles(session, SYSTEM, parse_articles(lines))
    assert caught.value.line == 3
    assert f"already holds the en article '{first}'" in str(caught.value)
    assert str(caught.value).endswith("(line 1)")


async def test_text_the_database_refuses_while_writing_names_the_line(db: Database) -> None:
    # What the file's checks let through but the database will not store (here built without
    # the checks) is reported with its line, and nothing is written.
    good = parse_articles([line()])[0]
    odd = ArticleIn.model_construct(**{**good.article.model_dump(), "slug": unique("odd-"),
                                       "body": "lone \ud800 surrogate"})  # fmt: skip
    with pytest.raises(ImportFileError) as caught:
        async with db.transaction() as session:
            await import_articles(session, SYSTEM, [good, ImportLine(7, odd)])
    assert str(caught.value).startswith("line 7: the database refused it: ")
    async with db.transaction() as session:
        exported = "\n".join(await export_articles(session))
    assert good.article.slug not in exported


def test_a_file_with_a_byte_order_mark_imports(cli_env: CliRunner, tmp_path: Path) -> None:
    slug = unique("bom-")
    source = tmp_path / "excel.jsonl"
    source.write_bytes("\ufeff".encode() + (line(slug=slug, title="标题") + "\n").encode())
    assert [item.article.slug for item in read_articles_file(source)] == [slug]
    imported = cli_env.invoke(cli_app, ["kb", "import", str(source)])
    assert imported.exit_code == 0, imported.output
    assert "1 created" in imported.output


def test_cli_names_the_line_of_a_problem_found_while_writing(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    group = unique("grp-")
    source = tmp_path / "groups.jsonl"
    source.write_text(line(slug=unique("one-"), translation_group=group) + "\n", encoding="utf-8")
    assert cli_env.invoke(cli_app, ["kb", "import", str(source)]).exit_code == 0
    later = unique("later-")
    source.write_text(
        line(slug=later) + "\n" + line(translation_group=group) + "\n", encoding="utf-8"
    )
    refused = cli_env.invoke(cli_app, ["kb", "import", str(source)])
    assert refused.exit_code == 1
    assert f"{source}: line 2: translation_group: '{group}' already holds" in refused.output
    assert later not in cli_env.invoke(cli_app, ["kb", "export"]).output
