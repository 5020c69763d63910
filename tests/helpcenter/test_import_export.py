"""JSONL import and export: round trip, updates, and bad files that import nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import make_agent, unique
from walletdesk.cli import app as cli_app
from walletdesk.core.actors import SYSTEM
from walletdesk.core.errors import PermissionDenied
from walletdesk.db import Database
from walletdesk.helpcenter.queries import get_article, questions_of
from walletdesk.helpcenter.transfer import (
    DEFAULT_ARTICLES,
    ImportFileError,
    export_articles,
    import_articles,
    parse_articles,
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
        await add_similar_question(session, agent.actor, "en", slug, "from a ticket", "WD-1")
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
    articles = parse_articles(DEFAULT_ARTICLES.read_text(encoding="utf-8").splitlines())
    per_locale = {loc: {a.slug for a in articles if a.locale == loc} for loc in ("zh-CN", "en")}
    assert len(per_locale["zh-CN"]) >= 30 and len(per_locale["en"]) >= 30
    assert per_locale["zh-CN"] == per_locale["en"]  # every article has its translation
    assert all(a.questions for a in articles)
