"""Reading readers' "Was this helpful?" answers: the API for supervisors and admins, and the
console's article list (counts, ratio, order) and editor (latest comments, escaped)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.api.helpers import API
from tests.api.test_openapi import SchemaChecker
from tests.conftest import AgentLogin, make_agent, unique
from tests.console.conftest import sign_in
from tests.helpcenter.conftest import make_article
from walletdesk.runtime import Runtime

FEEDBACK = "/api/v1/helpcenter/feedback"
ARTICLES = "/api/v1/helpcenter/articles"
SCRIPT = "<script>alert('fb')</script> still broken"


def _slug(prefix: str = "fb-") -> str:
    return unique(prefix).replace("_", "-")


async def _answer(
    client: httpx.AsyncClient, slug: str, helpful: bool, comment: str = "", locale: str = "en"
) -> None:
    """A reader answers through the public API, as the help center's pages do."""
    body = {"slug": slug, "locale": locale, "helpful": helpful, "comment": comment}
    response = await client.post(FEEDBACK, json=body)
    assert response.status_code == 201, response.text


async def _matches_the_document(client: httpx.AsyncClient, answer: httpx.Response) -> None:
    """The answer has exactly the shape the OpenAPI document declares for it."""
    spec: dict[str, Any] = (await client.get(f"{API}/openapi.json")).json()
    operation = spec["paths"]["/api/v1/helpcenter/articles/{locale}/{slug}/feedback"]["get"]
    declared = operation["responses"][str(answer.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    assert SchemaChecker(spec).errors(answer.json(), schema) == []


async def test_counts_and_latest_comments_newest_first(
    runtime: Runtime, client: httpx.AsyncClient, supervisor: AgentLogin
) -> None:
    slug = _slug()
    await make_article(runtime.db, slug=slug)
    # The same slug in the other language is another article: its answers stay its own.
    await make_article(runtime.db, slug=slug, locale="zh-CN")
    await _answer(client, slug, True, "first: clear steps")
    await _answer(client, slug, False)
    await _answer(client, slug, False, SCRIPT)
    await _answer(client, slug, True, "   ")  # blank: counted, not a comment
    await _answer(client, slug, True, "newest: it worked")
    await _answer(client, slug, False, "其他语言", locale="zh-CN")

    got = await client.get(f"{ARTICLES}/en/{slug}/feedback", headers=supervisor.headers)
    assert got.status_code == 200, got.text
    await _matches_the_document(client, got)
    report = got.json()
    assert (report["slug"], report["locale"]) == (slug, "en")
    assert (report["helpful"], report["not_helpful"], report["total"]) == (3, 2, 5)
    assert report["helpful_ratio"] == 0.6
    comments = report["comments"]
    assert [c["helpful"] for c in comments] == [True, False, True]
    assert comments[1]["comment"] == SCRIPT and comments[2]["comment"] == "first: clear steps"
    assert comments[0]["comment"] == "newest: it worked"
    assert {c["source"] for c in comments} == {"web"}
    stamps = [c["created_at"] for c in comments]
    assert stamps == sorted(stamps, reverse=True)

    latest = await client.get(
        f"{ARTICLES}/en/{slug}/feedback", params={"limit": 2}, headers=supervisor.headers
    )
    assert [c["comment"] for c in latest.json()["comments"]] == [comments[0]["comment"], SCRIPT]
    assert latest.json()["total"] == 5  # the limit cuts comments, never the counts

    chinese = await client.get(f"{ARTICLES}/zh-CN/{slug}/feedback", headers=supervisor.headers)
    assert (chinese.json()["helpful"], chinese.json()["not_helpful"]) == (0, 1)
    assert [c["comment"] for c in chinese.json()["comments"]] == ["其他语言"]


async def test_an_article_without_answers(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_agent(runtime.db, "admin")
    draft = await make_article(runtime.db, status="draft")
    got = await client.get(f"{ARTICLES}/en/{draft.slug}/feedback", headers=admin.headers)
    assert got.status_code == 200
    await _matches_the_document(client, got)
    assert got.json() | {"title": ""} == {
        "slug": draft.slug,
        "locale": "en",
        "title": "",
        "helpful": 0,
        "not_helpful": 0,
        "total": 0,
        "helpful_ratio": None,
        "comments": [],
    }


async def test_who_may_read_feedback(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin, supervisor: AgentLogin
) -> None:
    article = await make_article(runtime.db)
    await _answer(client, article.slug, False, "private remark")
    url = f"{ARTICLES}/en/{article.slug}/feedback"

    assert (await client.get(url)).status_code == 401
    denied = await client.get(url, headers=l1_agent.headers)
    assert denied.status_code == 403
    assert "supervisors and admins" in denied.json()["error"]
    assert "private remark" not in denied.text
    tier3 = await make_agent(runtime.db, "agent", tier=3)
    assert (await client.get(url, headers=tier3.headers)).status_code == 403

    missing = await client.get(
        f"{ARTICLES}/en/no-such-article/feedback", headers=supervisor.headers
    )
    assert missing.status_code == 404
    other_locale = await client.get(
        f"{ARTICLES}/zh-CN/{article.slug}/feedback", headers=supervisor.headers
    )
    assert other_locale.status_code == 404
    bad_locale = await client.get(
        f"{ARTICLES}/xx/{article.slug}/feedback", headers=supervisor.headers
    )
    assert bad_locale.status_code == 422
    too_many = await client.get(url, params={"limit": 101}, headers=supervisor.headers)
    assert too_many.status_code == 422


def _row(page: str, slug: str) -> str:
    match = re.search(rf'<tr data-article="en/{slug}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def _cell(row: str, name: str) -> str:
    match = re.search(rf'data-feedback="{name}">(.*?)</td>', row, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def test_console_list_shows_counts_and_sorts_by_them(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    prefix = _slug("fbsort-")
    liked, disliked, mixed, silent = (
        f"{prefix}-{n}" for n in ("liked", "disliked", "mixed", "silent")
    )
    for slug in (liked, disliked, mixed, silent):
        await make_article(runtime.db, slug=slug)
    for helpful, slug in [(True, liked), (True, liked), (False, disliked), (True, mixed)]:
        await _answer(client, slug, helpful)
    for _ in range(3):
        await _answer(client, mixed, False)

    await sign_in(client, await make_agent(runtime.db, "supervisor", locale="en"))
    page = await client.get("/console/help/articles", params={"q": prefix})
    assert page.status_code == 200
    assert "Helpful ratio" in page.text and "Most “not helpful” first" in page.text
    expected = {
        liked: ("2", "0", "100.0%"),
        disliked: ("0", "1", "0.0%"),
        mixed: ("1", "3", "25.0%"),
        silent: ("0", "0", "—"),
    }
    for slug, cells in expected.items():
        row = _row(page.text, slug)
        assert tuple(_cell(row, n) for n in ("helpful", "not_helpful", "ratio")) == cells

    def order(text: str) -> list[str]:
        return re.findall(rf'<tr data-article="en/({re.escape(prefix)}-[a-z]+)">', text)

    async def sorted_by(sort: str) -> list[str]:
        found = await client.get("/console/help/articles", params={"q": prefix, "sort": sort})
        assert found.status_code == 200
        assert f'<option value="{sort}" selected>' in found.text
        return order(found.text)

    # Equal ratios (0 %): the article more readers answered comes first; unanswered last.
    assert await sorted_by("ratio") == [disliked, mixed, liked, silent]
    assert await sorted_by("not_helpful") == [mixed, disliked, liked, silent]
    assert (await sorted_by("helpful"))[0] == liked
    bad = await client.get("/console/help/articles", params={"sort": "nonsense"})
    assert bad.status_code == 400


async def test_console_editor_shows_latest_comments_escaped(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    article = await make_article(runtime.db)
    quiet = await make_article(runtime.db)
    await _answer(client, article.slug, True, "older & useful")
    await _answer(client, article.slug, False, SCRIPT)
    await _answer(client, article.slug, False)

    await sign_in(client, await make_agent(runtime.db, "admin", locale="en"))
    page = await client.get(f"/console/help/articles/en/{article.slug}")
    assert page.status_code == 200
    assert "Reader feedback" in page.text and "Latest comments" in page.text
    section = page.text.split('id="feedback-heading"')[1].split("</section>")[0]
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;fb&#39;)&lt;/script&gt; still broken" in section
    assert section.index("still broken") < section.index("older &amp; useful")  # newest first
    assert re.findall(r'<li data-helpful="(yes|no)">', section) == ["no", "yes"]
    assert _feedback_fact(section, "helpful") == "1"
    assert _feedback_fact(section, "not_helpful") == "2"
    assert _feedback_fact(section, "ratio") == "33.3%"

    empty = await client.get(f"/console/help/articles/en/{quiet.slug}")
    assert "No reader has left a comment yet." in empty.text
    new = await client.get("/console/help/articles/new")
    assert "Reader feedback" not in new.text


async def test_console_feedback_in_chinese_and_for_supervisors_only(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    article = await make_article(runtime.db, locale="zh-CN")
    await _answer(client, article.slug, True, "讲得很清楚", locale="zh-CN")

    await sign_in(client, await make_agent(runtime.db, "agent", locale="zh-CN"))
    assert (await client.get("/console/help/articles")).status_code == 403
    denied = await client.get(f"/console/help/articles/zh-CN/{article.slug}")
    assert denied.status_code == 403 and "讲得很清楚" not in denied.text

    client.cookies.clear()
    await sign_in(client, await make_agent(runtime.db, "supervisor", locale="zh-CN"))
    listing = await client.get("/console/help/articles", params={"q": article.slug})
    for text in ("有帮助比例", "没有帮助", "排序方式", "“没有帮助”最多的在前"):
        assert text in listing.text
    assert _cell(_row_zh(listing.text, article.slug), "ratio") == "100.0%"
    page = await client.get(f"/console/help/articles/zh-CN/{article.slug}")
    assert "读者反馈" in page.text and "最新评论" in page.text and "讲得很清楚" in page.text


def _row_zh(page: str, slug: str) -> str:
    match = re.search(rf'<tr data-article="zh-CN/{slug}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def _feedback_fact(section: str, name: str) -> str:
    match = re.search(rf'<dd data-feedback="{name}">(.*?)</dd>', section)
    assert match, name
    return match.group(1)
