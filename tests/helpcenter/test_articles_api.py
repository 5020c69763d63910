"""Managing articles through the API: who may do what, sanitised Markdown, revisions."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AgentLogin, make_agent, unique
from walletdesk.core.actors import SYSTEM
from walletdesk.core.audit.service import list_events
from walletdesk.runtime import Runtime

BASE = "/api/v1/helpcenter/articles"


def new_article(**fields: object) -> dict[str, object]:
    return {
        "slug": unique("crud-"),
        "locale": "en",
        "title": "How to do it",
        "body": "Step **one**.\n\n<script>alert('x')</script>\n\n[link](https://example.org)",
        "category": unique("CRUD "),
        "keywords": ["do"],
        "questions": ["how do i do it?"],
        **fields,
    }


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_editors_create_update_and_see_revisions(
    runtime: Runtime, client: httpx.AsyncClient, role: str
) -> None:
    editor = await make_agent(runtime.db, role)
    body = new_article(status="draft")
    created = await client.post(BASE, json=body, headers=editor.headers)
    assert created.status_code == 201, created.text
    article = created.json()
    assert article["status"] == "draft" and article["revision"] == 1
    assert "<strong>one</strong>" in article["body_html"]
    assert "<script" not in article["body_html"] and "alert" not in article["body_html"]
    assert 'rel="noopener noreferrer nofollow"' in article["body_html"]

    url = f"{BASE}/en/{body['slug']}"
    again = await client.post(BASE, json=body, headers=editor.headers)
    assert again.status_code == 409

    fields = {k: v for k, v in body.items() if k not in ("slug", "locale")}
    updated = await client.put(
        url, json={**fields, "title": "How to do it well", "status": "published"},
        headers=editor.headers,
    )  # fmt: skip
    assert updated.status_code == 200, updated.text
    assert (updated.json()["title"], updated.json()["revision"]) == ("How to do it well", 2)
    assert updated.json()["published_at"] is not None

    revisions = await client.get(f"{url}/revisions", headers=editor.headers)
    assert [r["revision"] for r in revisions.json()] == [2, 1]
    assert revisions.json()[1]["title"] == "How to do it"

    async with runtime.db.transaction() as session:
        events = await list_events(session, SYSTEM, target_kind="article")
    actions = {e.action for e in events if e.actor_id == editor.agent.id}
    assert {"helpcenter.article.created", "helpcenter.article.updated"} <= actions


async def test_agents_read_and_add_questions_but_do_not_edit(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    admin = await make_agent(runtime.db, "admin")
    body = new_article()
    assert (await client.post(BASE, json=body, headers=admin.headers)).status_code == 201
    url = f"{BASE}/en/{body['slug']}"
    headers = l1_agent.headers

    assert (await client.get(url, headers=headers)).status_code == 200
    listed = await client.get(BASE, params={"locale": "en"}, headers=headers)
    assert body["slug"] in {a["slug"] for a in listed.json()}

    denied = [
        await client.post(BASE, json=new_article(), headers=headers),
        await client.put(url, json={"title": "x", "body": "y", "category": "z"}, headers=headers),
        await client.get(f"{url}/revisions", headers=headers),
        await client.post("/api/v1/helpcenter/preview", json={"body": "x"}, headers=headers),
    ]
    assert [r.status_code for r in denied] == [403, 403, 403, 403]
    assert "supervisors and admins" in denied[0].json()["error"]

    question = {
        "text": "my card number 4111 1111 1111 1111 is it ok?",
        "ticket_number": "7020612439",
    }
    added = await client.post(f"{url}/questions", json=question, headers=headers)
    assert added.status_code == 201 and added.json() == {"added": True}
    repeat = await client.post(f"{url}/questions", json=question, headers=headers)
    assert repeat.json() == {"added": False}
    got = await client.get(url, headers=headers)
    assert len(got.json()["questions"]) == 2


async def test_management_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(BASE)).status_code == 401
    assert (await client.post(BASE, json=new_article())).status_code == 401


async def test_preview_sanitises(runtime: Runtime, client: httpx.AsyncClient) -> None:
    editor = await make_agent(runtime.db, "supervisor")
    response = await client.post(
        "/api/v1/helpcenter/preview",
        json={"body": "# Hi\n<img src=x onerror=alert(1)><a href='javascript:alert(1)'>x</a>"},
        headers=editor.headers,
    )
    html = response.json()["html"]
    assert "<h1>Hi</h1>" in html
    assert "onerror" not in html and "javascript:" not in html and "<img" not in html


async def test_bad_article_input(runtime: Runtime, client: httpx.AsyncClient) -> None:
    editor = await make_agent(runtime.db, "admin")
    bad = await client.post(
        BASE, json=new_article(locale="de", slug="Bad Slug", title=""), headers=editor.headers
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"locale", "slug", "title"}
    missing = await client.get(f"{BASE}/en/no-such-article", headers=editor.headers)
    assert missing.status_code == 404
    wrong_locale = await client.get(f"{BASE}/xx/anything", headers=editor.headers)
    assert wrong_locale.status_code == 422


async def test_a_translation_group_holds_one_article_per_locale(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    editor = await make_agent(runtime.db, "supervisor")
    group = unique("grp-")
    first = new_article(translation_group=group)
    assert (await client.post(BASE, json=first, headers=editor.headers)).status_code == 201
    # Its version in the other locale joins the group; a second English article may not.
    chinese = new_article(locale="zh-CN", translation_group=group)
    assert (await client.post(BASE, json=chinese, headers=editor.headers)).status_code == 201
    rival = new_article(translation_group=group)
    refused = await client.post(BASE, json=rival, headers=editor.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"] == [
        {
            "field": "translation_group",
            "message": f"'{group}' already holds the en article '{first['slug']}'; a "
            "translation group links one article per language",
        }
    ]
    assert (
        await client.get(f"{BASE}/en/{rival['slug']}", headers=editor.headers)
    ).status_code == 404

    # An existing article may not move into it either; saving the first again is no conflict.
    other = new_article()
    assert (await client.post(BASE, json=other, headers=editor.headers)).status_code == 201
    fields = {k: v for k, v in other.items() if k not in ("slug", "locale")}
    moved = await client.put(
        f"{BASE}/en/{other['slug']}", json={**fields, "translation_group": group},
        headers=editor.headers,
    )  # fmt: skip
    assert moved.status_code == 422
    assert moved.json()["fields"][0]["field"] == "translation_group"
    again = {k: v for k, v in first.items() if k not in ("slug", "locale")}
    resaved = await client.put(
        f"{BASE}/en/{first['slug']}", json={**again, "title": "Retitled"}, headers=editor.headers
    )
    assert resaved.status_code == 200 and resaved.json()["translation_group"] == group
    switch = await client.get(f"/help/zh-CN/articles/{chinese['slug']}")
    assert f'href="/help/en/articles/{first["slug"]}"' in switch.text


async def test_a_new_articles_default_group_never_joins_another_of_its_locale(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    editor = await make_agent(runtime.db, "admin")
    slug = unique("taken-as-group-")
    holder = new_article(translation_group=slug)  # its group is the slug the next one has
    assert (await client.post(BASE, json=holder, headers=editor.headers)).status_code == 201
    newcomer = new_article(slug=slug)
    created = await client.post(BASE, json=newcomer, headers=editor.headers)
    assert created.status_code == 201, created.text
    assert created.json()["translation_group"] not in (slug, holder["slug"])
