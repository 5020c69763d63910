"""The public help-center pages in both languages, feedback through the form, escaping."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import make_agent, unique
from tests.helpcenter.conftest import make_article
from walletdesk.helpcenter.rendering import excerpt, render_markdown
from walletdesk.runtime import Runtime


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


async def test_root_redirects_by_browser_language(client: httpx.AsyncClient) -> None:
    en = await client.get("/help/", headers={"Accept-Language": "en-US,en;q=0.9"})
    zh = await client.get("/help", headers={"Accept-Language": "zh-TW,zh;q=0.9"})
    other = await client.get("/help/")
    assert (en.status_code, en.headers["location"]) == (307, "/help/en/")
    assert zh.headers["location"] == "/help/zh-CN/"
    assert other.headers["location"] == "/help/zh-CN/"


@pytest.mark.parametrize(
    ("locale", "words", "switch"),
    [
        ("zh-CN", ["帮助中心", "问题分类", "热门问题"], "English"),
        ("en", ["Help Center", "Topics"], "中文"),
    ],
)
async def test_home_lists_categories_and_popular_articles(
    runtime: Runtime, client: httpx.AsyncClient, locale: str, words: list[str], switch: str
) -> None:
    category = unique("Cat ")
    article = await make_article(runtime.db, locale=locale, category=category)
    page = await client.get(f"/help/{locale}/")
    assert page.status_code == 200
    assert f'<html lang="{locale}">' in page.text
    for word in words:
        assert word in page.text
    assert switch in page.text
    assert category in page.text
    assert 'name="viewport"' in page.text
    category_link = re.search(
        rf'href="(/help/{locale}/categories/[^"]+)"><strong>{re.escape(category)}<', page.text
    )
    assert category_link
    listing = await client.get(category_link.group(1))
    assert listing.status_code == 200 and article.title in listing.text


async def test_article_page_switches_to_its_translation(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    group = unique("grp-")
    zh = await make_article(runtime.db, locale="zh-CN", title="如何充值", translation_group=group,
                            body="点击 **充值**。<script>alert(1)</script>")  # fmt: skip
    en = await make_article(runtime.db, title="How to top up", translation_group=group)
    page = await client.get(f"/help/zh-CN/articles/{zh.slug}")
    assert page.status_code == 200
    assert "<h1>如何充值</h1>" in page.text
    assert "<strong>充值</strong>" in page.text
    assert "<script>alert" not in page.text
    assert f'href="/help/en/articles/{en.slug}"' in page.text
    assert "这篇文章对你有帮助吗？" in page.text
    english = await client.get(f"/help/en/articles/{en.slug}")
    assert f'href="/help/zh-CN/articles/{zh.slug}"' in english.text
    assert "Was this article helpful?" in english.text


async def test_missing_and_draft_articles_are_404_pages(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    draft = await make_article(runtime.db, status="draft")
    for url in (f"/help/en/articles/{draft.slug}", "/help/en/articles/nope",
                "/help/en/categories/nope", "/help/fr/", "/help/xx/articles/a"):  # fmt: skip
        page = await client.get(url)
        assert page.status_code == 404, url
        assert "text/html" in page.headers["content-type"]


async def test_feedback_form_records_and_needs_its_token(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    article = await make_article(runtime.db)
    url = f"/help/en/articles/{article.slug}"
    page = await client.get(url)
    token = csrf_token(page.text)
    assert client.cookies.get("hc_csrf") == token
    sent = await client.post(f"{url}/feedback", data={"helpful": "yes", "csrf_token": token})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}?feedback=thanks#feedback"
    thanks = await client.get(f"{url}?feedback=thanks")
    assert "Thank you for your feedback!" in thanks.text

    forged = await client.post(f"{url}/feedback", data={"helpful": "no", "csrf_token": "forged"})
    assert forged.status_code == 403 and "expired" in forged.text

    admin = await make_agent(runtime.db, "admin")
    got = await client.get(f"/api/v1/helpcenter/articles/en/{article.slug}", headers=admin.headers)
    assert (got.json()["helpful_count"], got.json()["unhelpful_count"]) == (1, 0)


async def test_search_page_escapes_the_query(runtime: Runtime, client: httpx.AsyncClient) -> None:
    marker = "zq" + "".join(chr(ord("a") + int(d)) for d in unique("").replace("-", ""))
    article = await make_article(runtime.db, title=f"About {marker}")
    hostile = f'<script>alert("x")</script> {marker}'
    page = await client.get("/help/en/search", params={"q": hostile})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert f'href="/help/en/articles/{article.slug}"' in page.text
    none = await client.get("/help/zh-CN/search", params={"q": "🙂🙂"})
    assert none.status_code == 200 and "没有找到相关文章" in none.text
    empty = await client.get("/help/en/search", params={"q": ""})
    assert "Type a question" in empty.text
    long = await client.get("/help/en/search", params={"q": "a" * 5000})
    assert long.status_code == 422 and "too long" in long.text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_contact_page_lists_official_channels_and_warns(
    client: httpx.AsyncClient, locale: str
) -> None:
    page = await client.get(f"/help/{locale}/contact")
    assert page.status_code == 200
    assert "mailto:support@walletdesk.test" in page.text
    assert 'href="tel:+12025550142"' in page.text
    warning = "谨防冒充客服诈骗" if locale == "zh-CN" else "Beware of fake support accounts"
    assert warning in page.text
    secret = "助记词" if locale == "zh-CN" else "seed phrase"
    assert secret in page.text


async def test_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    css = await client.get("/help/static/help.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for name in ("models.py", "%2e%2e%2fmodels.py", "help.css.bak"):
        assert (await client.get(f"/help/static/{name}")).status_code == 404


def _description(page: str) -> str:
    match = re.search(r'<meta name="description" content="([^"]*)">', page)
    assert match, "the page has no meta description"
    return match.group(1)


async def test_each_article_page_describes_itself(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    short = await make_article(
        runtime.db, body='## Steps\n\nTap **Top up** & choose "Card" <script>x()</script>.'
    )
    page = await client.get(f"/help/en/articles/{short.slug}")
    # Plain text of the article, escaped; not the site's search hint any more.
    assert _description(page.text) == "Steps Tap Top up &amp; choose &#34;Card&#34; ."
    home = await client.get("/help/en/")
    assert _description(home.text) != _description(page.text)

    words = " ".join(f"word{n}" for n in range(60))
    long = await make_article(runtime.db, body=words)
    described = _description((await client.get(f"/help/en/articles/{long.slug}")).text)
    assert len(described) <= 160 and described.endswith("…")
    assert words.startswith(described.removesuffix("…"))
    assert described.removesuffix("…").split()[-1] in words.split()  # cut between words
    chinese = await make_article(runtime.db, locale="zh-CN", body="账户被冻结后，" * 40)
    zh = _description((await client.get(f"/help/zh-CN/articles/{chinese.slug}")).text)
    assert zh.startswith("账户被冻结后，账户") and len(zh) <= 160 and zh.endswith("…")


def test_description_of_a_long_article_is_its_beginning() -> None:
    long = render_markdown("\n\n".join(f"Paragraph {n} says something." for n in range(3000)))
    text = excerpt(long)
    assert text.startswith("Paragraph 0 says something. Paragraph 1") and text.endswith("…")
    assert len(text) <= 160
    # Mostly markup (long link addresses) at the start: still a full description.
    links = render_markdown(
        "\n".join(f"- [step{n}](https://example.org/{'p' * 300})" for n in range(100))
    )
    described = excerpt(links)
    assert described.startswith("step0 step1") and 150 <= len(described) <= 160
