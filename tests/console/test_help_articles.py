"""Help articles in the console: supervisors write, preview and publish them through the real
forms; agents are refused the editor but add a ticket's question to an article."""

from __future__ import annotations

import html
import os

import httpx

from tests.conftest import make_agent, unique
from tests.console.conftest import csrf_in, open_ticket, post_form, sign_in
from walletdesk.core.actors import SYSTEM
from walletdesk.core.audit.service import list_events
from walletdesk.db import Database
from walletdesk.helpcenter import queries

# Lexical ranking only, so the result does not depend on an embedding model; many searches
# come from one test address.
os.environ.setdefault("WALLETDESK_HELPCENTER_SEMANTIC", "0")
os.environ.setdefault("WALLETDESK_HELPCENTER_RATE_PER_MINUTE", "0")

NEW = "/console/help/articles/new"


def _slug() -> str:
    return unique("console-art-").replace("_", "-")


def _article(slug: str, **changes: str) -> dict[str, str]:
    fields = {
        "title": "Reset your payment password",
        "slug": slug,
        "locale": "en",
        "category": "Account security",
        "keywords": "password, 支付密码",
        "questions": "forgot my payment password\nhow do I change my PIN",
        "body": "Open **Me → Security**.\n\n<script>alert('x')</script>\n\nThen follow the steps.",
        "status": "draft",
        "action": "save",
    }
    return fields | changes


async def test_supervisor_creates_previews_publishes_and_edits(
    client: httpx.AsyncClient, db: Database
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    slug = _slug()
    page = f"/console/help/articles/en/{slug}"

    inbox = await client.get("/console/")
    assert 'href="/console/help/articles"' in inbox.text
    form = await client.get(NEW)
    assert form.status_code == 200 and 'name="slug"' in form.text

    preview = await post_form(client, NEW, csrf, **_article(slug, action="preview"))
    assert preview.status_code == 200
    assert "<strong>Me → Security</strong>" in preview.text
    assert "alert(" not in preview.text.split('class="article-preview"')[1].split("</section>")[0]
    assert "<script>alert" not in preview.text  # the typed body is escaped in the textarea
    assert "&lt;script&gt;alert" in preview.text  # and kept, so nothing typed is lost
    async with db.transaction() as session:
        assert not [a for a, _ in await queries.list_articles(session) if a.slug == slug]

    created = await post_form(client, NEW, csrf, **_article(slug))
    assert created.status_code == 303 and created.headers["location"] == page
    edit = await client.get(page)
    assert "Article saved (revision 1)." in edit.text
    assert "Revision history" in edit.text and supervisor.agent.name in edit.text

    listing = await client.get("/console/help/articles", params={"status": "draft", "q": slug})
    assert f'href="{page}"' in listing.text
    published_list = await client.get(
        "/console/help/articles", params={"status": "published", "q": slug}
    )
    assert f'href="{page}"' not in published_list.text

    published = await post_form(client, page, csrf, **_article(slug, status="published"))
    assert published.status_code == 303
    public = await client.get(f"/help/en/articles/{slug}")
    assert public.status_code == 200 and "Reset your payment password" in public.text

    edited = await post_form(
        client, page, csrf, **_article(slug, status="published", title="Reset a payment PIN")
    )
    assert edited.status_code == 303
    after = await client.get(page)
    assert "Article saved (revision 3)." in after.text
    assert after.text.count(f'href="{page}/revisions/') == 3
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug)
        revisions = await queries.revisions(session, article.id)
        events = await list_events(session, SYSTEM, target_kind="article", target_id=article.id)
    assert article.title == "Reset a payment PIN" and "<script" not in article.body_html
    assert [r.revision for r in revisions] == [3, 2, 1]
    assert {r.editor for r in revisions} == {supervisor.agent.name}
    mine = [e.action for e in events]
    assert mine.count("helpcenter.article.updated") == 2 and "helpcenter.article.created" in mine

    unchanged = await post_form(
        client, page, csrf, **_article(slug, status="published", title="Reset a payment PIN")
    )
    assert "Nothing changed." in (await client.get(unchanged.headers["location"])).text


async def test_agents_cannot_open_the_editor(client: httpx.AsyncClient, db: Database) -> None:
    agent = await make_agent(db, "agent", locale="zh-CN")
    csrf = await sign_in(client, agent)
    assert 'href="/console/help/articles"' not in (await client.get("/console/")).text
    for url in ("/console/help/articles", NEW, "/console/help/articles/en/anything"):
        refused = await client.get(url)
        assert refused.status_code == 403, url
        assert "只有主管和管理员可以管理帮助文章" in refused.text
    slug = _slug()
    posted = await post_form(client, NEW, csrf, **_article(slug))
    assert posted.status_code == 403
    async with db.transaction() as session:
        assert not [a for a, _ in await queries.list_articles(session) if a.slug == slug]
    # Without the session's CSRF token nothing is even considered.
    supervisor = await make_agent(db, "supervisor")
    client.cookies.clear()
    await sign_in(client, supervisor)
    forged = await post_form(client, NEW, "forged", **_article(slug))
    assert forged.status_code == 403


async def test_duplicate_slug_and_bad_input_keep_what_was_typed(
    client: httpx.AsyncClient, db: Database
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    slug = _slug()
    assert (await post_form(client, NEW, csrf, **_article(slug))).status_code == 303

    again = await post_form(
        client, NEW, csrf, **_article(slug, title="A second article", body="Typed with care")
    )
    assert again.status_code == 422
    text = html.unescape(again.text)
    assert f"An article with the slug {slug} already exists in English." in text
    assert 'value="A second article"' in text and "Typed with care" in text
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug, published_only=False)
    assert article.title == "Reset your payment password" and article.revision == 1

    bad = await post_form(client, NEW, csrf, **_article("Not A Slug!", title="Kept title"))
    assert bad.status_code == 422
    assert "Slug: Use lowercase letters" in bad.text and 'value="Kept title"' in bad.text
    assert 'value="Not A Slug!"' in bad.text

    missing = await client.get("/console/help/articles/fr/whatever")
    assert missing.status_code == 404


async def test_agent_adds_a_tickets_question_and_search_finds_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    slug = _slug()
    await post_form(client, NEW, csrf, **_article(slug, status="published"))
    word = unique("zorblax").replace("-", "")
    question = f"my {word} top-up vanished overnight"
    ticket = await open_ticket(db, text=question)

    search = {"q": word, "locale": "en"}
    before = await client.get("/api/v1/helpcenter/search", params=search)
    assert before.status_code == 200 and before.json()["results"] == []

    client.cookies.clear()
    agent = await make_agent(db, "agent")
    await sign_in(client, agent)
    ticket_url = f"/console/tickets/{ticket.ticket_number}"
    page = await client.get(ticket_url)
    assert "Add this question to a help article" in page.text
    assert f">{question}</textarea>" in page.text  # prefilled with the customer's message
    csrf = csrf_in(page.text)
    action = f"{ticket_url}/help-question"

    # Part of a title only offers a choice; nothing is added yet.
    choose = await post_form(client, action, csrf, article="payment password", question=question)
    assert choose.status_code == 200
    assert f'value="en/{slug}"' in choose.text and question in choose.text
    nothing = await post_form(client, action, csrf, article=unique("no-such"), question=question)
    assert nothing.status_code == 422 and "No help article matches" in html.unescape(nothing.text)

    added = await post_form(client, action, csrf, article=f"en/{slug}", question=question)
    assert added.status_code == 303 and added.headers["location"] == ticket_url
    back = html.unescape((await client.get(ticket_url)).text)
    assert "Question added to “Reset your payment password”." in back
    twice = await post_form(client, action, csrf, article=slug, question=question)
    assert twice.status_code == 303
    back = html.unescape((await client.get(ticket_url)).text)
    assert "“Reset your payment password” already has this question." in back

    after = await client.get("/api/v1/helpcenter/search", params=search)
    assert [r["slug"] for r in after.json()["results"]] == [slug]
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug)
        events = await list_events(session, SYSTEM, target_kind="article", target_id=article.id)
    added_events = [e for e in events if e.action == "helpcenter.question.added"]
    assert len(added_events) == 1 and added_events[0].detail["ticket"] == ticket.ticket_number


async def _group_of(db: Database, locale: str, slug: str) -> str:
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, locale, slug, published_only=False)
    return article.translation_group


async def test_editor_links_a_translation_with_its_own_slug(
    client: httpx.AsyncClient, db: Database
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    en_slug, zh_slug, other_zh = _slug(), _slug(), _slug()
    await post_form(client, NEW, csrf, **_article(en_slug, status="published"))
    zh_fields = _article(
        zh_slug, locale="zh-CN", title="重置支付密码", category="账户安全", status="published"
    )

    # A slug that names nothing, or an article of the same language, is refused, and what
    # was typed is kept.
    missing = await post_form(client, NEW, csrf, **zh_fields, translation_of="no-such-article")
    assert missing.status_code == 422
    text = html.unescape(missing.text)
    assert "Translation of: There is no article with the slug no-such-article in English." in text
    assert 'value="重置支付密码"' in text and 'value="no-such-article"' in text
    async with db.transaction() as session:
        assert not [a for a, _ in await queries.list_articles(session) if a.slug == zh_slug]

    created = await post_form(client, NEW, csrf, **zh_fields, translation_of=en_slug)
    assert created.status_code == 303
    assert await _group_of(db, "zh-CN", zh_slug) == await _group_of(db, "en", en_slug)
    zh_page = f"/console/help/articles/zh-CN/{zh_slug}"
    editor = await client.get(zh_page)
    assert 'name="translation_of" value="' + en_slug + '"' in editor.text
    en_editor = await client.get(f"/console/help/articles/en/{en_slug}")
    assert 'name="translation_of" value="' + zh_slug + '"' in en_editor.text

    # The public language switch now leads to the linked article, both ways.
    zh_public = await client.get(f"/help/zh-CN/articles/{zh_slug}")
    assert f'href="/help/en/articles/{en_slug}"' in zh_public.text
    en_public = await client.get(f"/help/en/articles/{en_slug}")
    assert f'href="/help/zh-CN/articles/{zh_slug}"' in en_public.text

    # A second Chinese article cannot take the English one from the first.
    client.cookies.clear()
    chinese = await make_agent(db, "supervisor", locale="zh-CN")
    csrf = await sign_in(client, chinese)
    await post_form(client, NEW, csrf, **_article(other_zh, locale="zh-CN", category="账户安全"))
    other_page = f"/console/help/articles/zh-CN/{other_zh}"
    taken = await post_form(
        client, other_page, csrf, **_article(other_zh, locale="zh-CN", category="账户安全"),
        translation_of=en_slug,
    )  # fmt: skip
    assert taken.status_code == 422
    assert f"译文对应: {en_slug} 已是 {zh_slug} 的译文对应" in html.unescape(taken.text)
    same = await post_form(
        client, other_page, csrf, **_article(other_zh, locale="zh-CN", category="账户安全"),
        translation_of=zh_slug,
    )  # fmt: skip
    assert same.status_code == 422
    assert f"{zh_slug} 是同一语言的文章，请选择它的 English 版本。" in html.unescape(same.text)
    assert await _group_of(db, "zh-CN", other_zh) != await _group_of(db, "en", en_slug)

    # Clearing the field unlinks (a new revision, audited); the switch then goes home.
    unlinked = await post_form(client, zh_page, csrf, **zh_fields, translation_of="")
    assert unlinked.status_code == 303
    assert await _group_of(db, "zh-CN", zh_slug) != await _group_of(db, "en", en_slug)
    zh_public = await client.get(f"/help/zh-CN/articles/{zh_slug}")
    assert f'href="/help/en/articles/{en_slug}"' not in zh_public.text
    assert 'class="lang" href="/help/en/"' in zh_public.text
    # Now free, the English article can be linked from the other Chinese one.
    relinked = await post_form(
        client, other_page, csrf, **_article(other_zh, locale="zh-CN", category="账户安全"),
        translation_of=en_slug,
    )  # fmt: skip
    assert relinked.status_code == 303
    assert await _group_of(db, "zh-CN", other_zh) == await _group_of(db, "en", en_slug)


async def test_revision_view_diff_restore_and_archive(
    client: httpx.AsyncClient, db: Database
) -> None:
    supervisor = await make_agent(db, "supervisor")
    csrf = await sign_in(client, supervisor)
    slug = _slug()
    page = f"/console/help/articles/en/{slug}"
    first_body = "Open **Me → Security**.\n\nUse the <b>old</b> steps."
    await post_form(client, NEW, csrf, **_article(slug, body=first_body, status="published"))
    await post_form(
        client, page, csrf,
        **_article(slug, body="Open **Me → Security**.\n\nUse the new steps.",
                   title="Reset a payment PIN", status="published"),
    )  # fmt: skip

    view = await client.get(f"{page}/revisions/1")
    assert view.status_code == 200
    assert "Revision 1" in view.text and "Reset your payment password" in view.text
    # The diff shows what changed, as escaped text: the old body's <b> is never markup there.
    diff = view.text.split('id="diff-heading"')[1].split("</section>")[0]
    assert "<del>- Use the &lt;b&gt;old&lt;/b&gt; steps.</del>" in diff
    assert "<ins>+ Use the new steps.</ins>" in diff
    assert "<del>- Reset your payment password</del>" in diff
    assert "<ins>+ Reset a payment PIN</ins>" in diff
    assert "<b>old</b>" not in diff
    assert f'action="{page}/revisions/1/restore"' in view.text
    current = await client.get(f"{page}/revisions/2")
    assert "This revision has the same content as the current one." in current.text
    assert "/restore" not in current.text
    assert (await client.get(f"{page}/revisions/9")).status_code == 404

    restored = await post_form(client, f"{page}/revisions/1/restore", csrf)
    assert restored.status_code == 303 and restored.headers["location"] == page
    after = await client.get(page)
    assert "Revision 1 restored as revision 3." in html.unescape(after.text)
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug)
        events = await list_events(session, SYSTEM, target_kind="article", target_id=article.id)
    assert (article.title, article.body_md, article.revision) == (
        "Reset your payment password", first_body, 3,
    )  # fmt: skip
    assert article.status == "published"  # restoring a text does not unpublish it
    assert [e.detail.get("restored_from") for e in events if e.detail.get("revision") == 3] == [1]

    # Archived is a status an editor can choose; the public page is then gone.
    assert '<option value="archived"' in after.text
    archived = await post_form(client, page, csrf, **_article(slug, body=first_body,
                                                               status="archived"))  # fmt: skip
    assert archived.status_code == 303
    assert (await client.get(f"/help/en/articles/{slug}")).status_code == 404
    assert 'value="archived" selected' in (await client.get(page)).text

    # Agents may not look at or restore revisions; a forged form restores nothing.
    client.cookies.clear()
    agent = await make_agent(db, "agent")
    agent_csrf = await sign_in(client, agent)
    assert (await client.get(f"{page}/revisions/1")).status_code == 403
    refused = await post_form(client, f"{page}/revisions/1/restore", agent_csrf)
    assert refused.status_code == 403
    async with db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug, published_only=False)
    assert article.revision == 4


async def test_revision_pages_in_chinese(client: httpx.AsyncClient, db: Database) -> None:
    supervisor = await make_agent(db, "supervisor", locale="zh-CN")
    csrf = await sign_in(client, supervisor)
    slug = _slug()
    page = f"/console/help/articles/en/{slug}"
    await post_form(client, NEW, csrf, **_article(slug))
    await post_form(client, page, csrf, **_article(slug, title="Changed"))
    view = await client.get(f"{page}/revisions/1")
    assert "从第 1 版到当前第 2 版的改动" in view.text and "恢复这一版" in view.text
    editor = await client.get(page)
    assert "译文对应" in editor.text and "已归档" in editor.text
