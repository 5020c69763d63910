"""Text PostgreSQL cannot store (a NUL character, a lone surrogate) never reaches it from the
help center: public pages answer 404 for a slug that is no slug, and the API, the feedback
form, the console's forms and `kb import` refuse such text naming the field or the line.

Run on both backends: SQLite stores a NUL, so without the checks the text is accepted
there, while PostgreSQL answers a 500 (or a 422 naming no field); a NUL in a URL's slug only
fails on PostgreSQL. Pydantic itself refuses a lone surrogate in JSON; those cases make sure
it stays a field error.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import AgentLogin, make_agent, unique
from tests.console.conftest import csrf_in, open_ticket, post_form, sign_in
from tests.helpcenter.conftest import make_article
from tests.helpcenter.test_import_export import line
from tests.helpcenter.test_public_pages import csrf_token
from walletdesk.cli import app as cli_app
from walletdesk.db import Database
from walletdesk.helpcenter import queries
from walletdesk.runtime import Runtime
from walletdesk.settings import get_settings

NUL = "\x00"
SURROGATE = "\ud800"
API = "/api/v1/helpcenter"


async def _counts(db: Database, slug: str, locale: str = "en") -> tuple[int, int]:
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, locale, slug, published_only=False)
    return article.helpful_count, article.unhelpful_count


async def _questions(db: Database, slug: str) -> list[str]:
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug, published_only=False)
        return (await queries.questions_of(session, [article.id])).get(article.id, [])


def _json(value: object) -> str:
    # json.dumps writes a lone surrogate as the escape "\ud800", as a client's JSON would.
    return json.dumps(value)


# --- public pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/help/en/articles/a%00b",
        "/help/zh-CN/articles/%00",
        "/help/en/categories/a%00b",
        "/help/en/articles/Not_A_Slug",
        "/help/en/articles/" + "a" * 121,
    ],
)
async def test_a_slug_that_is_no_slug_is_the_404_page(client: httpx.AsyncClient, url: str) -> None:
    page = await client.get(url)
    assert page.status_code == 404, page.text
    assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize(("locale", "words"), [("en", "cannot save"), ("zh-CN", "无法保存")])
async def test_feedback_form_refuses_a_nul_in_the_comment(
    runtime: Runtime, client: httpx.AsyncClient, locale: str, words: str
) -> None:
    article = await make_article(runtime.db, locale=locale)
    url = f"/help/{locale}/articles/{article.slug}"
    token = csrf_token((await client.get(url)).text)
    sent = await client.post(
        f"{url}/feedback", data={"helpful": "no", "csrf_token": token, "comment": f"x{NUL}y"}
    )
    assert sent.status_code == 422, sent.text
    assert "text/html" in sent.headers["content-type"] and words in sent.text
    assert await _counts(runtime.db, article.slug, locale) == (0, 0)


async def test_feedback_form_for_a_slug_that_is_no_slug_is_the_404_page(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    article = await make_article(runtime.db)
    token = csrf_token((await client.get(f"/help/en/articles/{article.slug}")).text)
    odd = await client.post(
        "/help/en/articles/a%00b/feedback", data={"helpful": "yes", "csrf_token": token}
    )
    assert odd.status_code == 404 and "text/html" in odd.headers["content-type"]


# --- the public API -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"comment": f"bad{NUL}comment"}, "comment"),
        ({"comment": f"bad{SURROGATE}comment"}, "comment"),
        ({"slug": f"a{NUL}b"}, "slug"),
        ({"slug": "Not-A-Slug"}, "slug"),
    ],
)
async def test_feedback_api_refuses_unstorable_text(
    runtime: Runtime, client: httpx.AsyncClient, changes: dict[str, str], field: str
) -> None:
    article = await make_article(runtime.db)
    body = {"slug": article.slug, "locale": "en", "helpful": False} | changes
    response = await client.post(
        f"{API}/feedback", content=_json(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert await _counts(runtime.db, article.slug) == (0, 0)


@pytest.mark.parametrize("slug", [f"a{NUL}b", f"a{SURROGATE}", "Bad Slug"])
async def test_deflection_api_refuses_a_slug_that_is_no_slug(
    client: httpx.AsyncClient, slug: str
) -> None:
    body = {"suggestion_id": unique("sid").replace("-", "x"), "outcome": "opened",
            "channel": "email", "locale": "en", "slug": slug}  # fmt: skip
    response = await client.post(
        f"{API}/deflections", content=_json(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == ["slug"]


# --- managing articles through the API -----------------------------------------------------


def _new_article(**fields: object) -> dict[str, object]:
    return {
        "slug": unique("nul-").replace("_", "-"),
        "locale": "en",
        "title": "Title",
        "body": "Body",
        "category": unique("Unstorable "),
        **fields,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": f"Step one.{NUL}"}, "body"),
        ({"title": f"T{SURROGATE}"}, "title"),
        ({"category": f"C{NUL}"}, "category"),
        ({"keywords": ["fine", f"k{NUL}"]}, "keywords.1"),
        ({"questions": [f"q{SURROGATE}?"]}, "questions.0"),
    ],
)
async def test_article_api_refuses_unstorable_text_by_field(
    runtime: Runtime, client: httpx.AsyncClient, changes: dict[str, object], field: str
) -> None:
    editor = await make_agent(runtime.db, "supervisor")
    body = _new_article(**changes)
    headers = editor.headers | {"Content-Type": "application/json"}
    created = await client.post(f"{API}/articles", content=_json(body), headers=headers)
    assert created.status_code == 422, created.text
    assert [f["field"] for f in created.json()["fields"]] == [field]
    fields = {k: v for k, v in body.items() if k not in ("slug", "locale")}
    put = await client.put(
        f"{API}/articles/en/{body['slug']}", content=_json(fields), headers=headers
    )
    assert put.status_code == 422, put.text
    missing = await client.get(f"{API}/articles/en/{body['slug']}", headers=editor.headers)
    assert missing.status_code == 404


async def test_article_api_paths_with_a_slug_that_is_no_slug(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    editor = await make_agent(runtime.db, "admin")
    fields = {"title": "T", "body": "B", "category": "C"}
    put = await client.put(f"{API}/articles/en/a%00b", json=fields, headers=editor.headers)
    assert put.status_code == 422 and put.json()["fields"][0]["field"] == "slug"
    upper = await client.put(f"{API}/articles/en/Upper", json=fields, headers=editor.headers)
    assert upper.status_code == 422
    for url in (f"{API}/articles/en/a%00b", f"{API}/articles/en/a%00b/revisions"):
        assert (await client.get(url, headers=editor.headers)).status_code == 404, url
    question = await client.post(
        f"{API}/articles/en/a%00b/questions", json={"text": "hello"}, headers=editor.headers
    )
    assert question.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": f"where is my money{NUL}"}, "text"),
        ({"text": f"where{SURROGATE}"}, "text"),
        ({"text": "where is my money", "ticket_number": f"12{NUL}"}, "ticket_number"),
    ],
)
async def test_api_question_refuses_unstorable_text(
    runtime: Runtime,
    client: httpx.AsyncClient,
    l1_agent: AgentLogin,
    body: dict[str, str],
    field: str,
) -> None:
    article = await make_article(runtime.db)
    response = await client.post(
        f"{API}/articles/en/{article.slug}/questions",
        content=_json(body),
        headers=l1_agent.headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert await _questions(runtime.db, article.slug) == []


# --- the console's forms (through the shared schema and service checks) -------------------

NEW = "/console/help/articles/new"


def _form(slug: str, **changes: str) -> dict[str, str]:
    return {
        "title": "Withdrawal limits",
        "slug": slug,
        "locale": "en",
        "category": unique("Console unstorable "),
        "keywords": "limit",
        "questions": "how much can I withdraw",
        "body": "Up to the daily limit.",
        "status": "published",
        "action": "save",
    } | changes


@pytest.mark.parametrize(
    "changes",
    [
        {"body": f"Up to{NUL} the daily limit."},
        {"title": f"Withdrawal{NUL} limits"},
        {"questions": f"how much{NUL}\nanother"},
        {"translation_of": f"a{NUL}b"},
    ],
)
async def test_console_editor_refuses_a_nul(
    client: httpx.AsyncClient, db: Database, changes: dict[str, str]
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    slug = unique("console-nul-").replace("_", "-")
    # Every console form is checked once, before its route (console/session.py).
    refused = await post_form(client, NEW, csrf, **_form(slug, **changes))
    assert refused.status_code == 400, refused.text[:300]
    assert "cannot be saved (a NUL character)" in refused.text
    async with db.transaction() as session:
        rows = await queries.list_articles(session, locale="en")
    assert slug not in {a.slug for a, _ in rows}
    # The same form without the character saves, and an edit with one is refused too.
    assert (await post_form(client, NEW, csrf, **_form(slug))).status_code == 303
    edit = await post_form(
        client, f"/console/help/articles/en/{slug}", csrf, **_form(slug, **changes)
    )
    assert edit.status_code == 400
    assert (await client.get("/console/help/articles/en/a%00b")).status_code == 404


async def test_console_ticket_question_with_a_nul_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # The console form is refused whole; the service, for its other callers, would take
    # the character out with the rest of its cleaning (secrets shielded, spacing folded).
    article = await make_article(db)
    ticket = await open_ticket(db, text="my withdrawal is stuck")
    agent = await make_agent(db, "agent")
    await sign_in(client, agent)
    ticket_url = f"/console/tickets/{ticket.ticket_number}"
    csrf = csrf_in((await client.get(ticket_url)).text)
    added = await post_form(
        client, f"{ticket_url}/help-question", csrf,
        article=f"en/{article.slug}", question=f"my withdrawal{NUL} is stuck",
    )  # fmt: skip
    assert added.status_code == 400, added.text[:300]
    assert await _questions(db, article.slug) == []


# --- kb import ------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WALLETDESK_DATABASE_URL", db_url)
    monkeypatch.setenv("WALLETDESK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    return CliRunner()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"body": f"Body{NUL}"}, "body: the text contains a NUL character"),
        ({"keywords": ["ok", f"k{NUL}"]}, "keywords.1: the text contains a NUL character"),
        ({"questions": [f"q{NUL}"]}, "questions.0: the text contains a NUL character"),
        ({"title": f"T{SURROGATE}"}, "title: "),
    ],
)
def test_cli_import_names_the_line_of_unstorable_text(
    cli: CliRunner, tmp_path: Path, changes: dict[str, object], problem: str
) -> None:
    good, bad = unique("kb-ok-"), unique("kb-nul-")
    source = tmp_path / "nul.jsonl"
    # ensure_ascii (the default) writes NUL and the surrogate as JSON escapes, as in the audit.
    rows = [json.loads(line(slug=good)), json.loads(line(slug=bad)) | changes]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = cli.invoke(cli_app, ["kb", "import", str(source)])
    assert result.exit_code == 1, result.output
    assert f"line 2: {problem}" in result.output
    assert "Traceback" not in result.output and "database error" not in result.output
    exported = cli.invoke(cli_app, ["kb", "export"])
    assert good not in exported.output and bad not in exported.output
