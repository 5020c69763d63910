"""What search engines see: the sitemap, canonical links, noindex on searches, and the
brand from the official channel list in every page's title and header."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique
from tests.helpcenter.conftest import make_article
from walletdesk.helpcenter.official_channels import ENV_VAR
from walletdesk.runtime import Runtime

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}


async def test_sitemap_lists_published_articles_with_their_translations(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    group = unique("grp-").replace("_", "-")
    zh = await make_article(runtime.db, locale="zh-CN", translation_group=group)
    en = await make_article(runtime.db, locale="en", translation_group=group)
    alone = await make_article(runtime.db, locale="en")
    draft = await make_article(runtime.db, locale="en", status="draft")

    base = runtime.settings.base_url.rstrip("/")
    response = await client.get("/help/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    urls = {
        node.findtext("s:loc", namespaces=NS): node
        for node in ET.fromstring(response.content).findall("s:url", NS)
    }
    zh_url = f"{base}/help/zh-CN/articles/{zh.slug}"
    en_url = f"{base}/help/en/articles/{en.slug}"
    assert zh_url in urls and en_url in urls
    assert f"{base}/help/en/articles/{alone.slug}" in urls
    assert f"{base}/help/en/articles/{draft.slug}" not in urls
    for url in (zh_url, en_url):
        alternates = {
            link.get("hreflang"): link.get("href")
            for link in urls[url].findall("x:link", NS)
            if link.get("rel") == "alternate"
        }
        assert alternates == {"zh-CN": zh_url, "en": en_url}
        lastmod = urls[url].findtext("s:lastmod", namespaces=NS) or ""
        assert len(lastmod) == 20 and lastmod.endswith("Z") and lastmod[10] == "T"
    assert not urls[f"{base}/help/en/articles/{alone.slug}"].findall("x:link", NS)


async def test_article_pages_have_a_canonical_link_and_searches_are_noindex(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    article = await make_article(runtime.db, locale="en")
    base = runtime.settings.base_url.rstrip("/")
    page = await client.get(f"/help/en/articles/{article.slug}?feedback=thanks&s=abcdefgh12")
    canonical = f'<link rel="canonical" href="{base}/help/en/articles/{article.slug}">'
    assert canonical in page.text
    assert 'name="robots"' not in page.text
    search = await client.get("/help/en/search", params={"q": "password"})
    assert '<meta name="robots" content="noindex, follow">' in search.text
    assert 'rel="canonical"' not in search.text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_pages_carry_the_brand_of_the_channel_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient, locale: str
) -> None:
    shipped = await client.get(f"/help/{locale}/")
    site = "帮助中心" if locale == "zh-CN" else "Help Center"
    brand = "WalletDesk 钱包" if locale == "zh-CN" else "WalletDesk Wallet"
    assert f"<title>{brand} {site}</title>" in shipped.text
    assert f'<a class="brand" href="/help/{locale}/">{brand} <span>{site}</span></a>' in (
        shipped.text
    )

    def use(name: str, text: str) -> None:
        # A new file each time: the list is cached by path and modification time.
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv(ENV_VAR, str(path))

    use("named.json", json.dumps({"brand": {"zh-CN": "示例<钱包>", "en": "Sample <Pay>"},
                                  "channels": []}))  # fmt: skip
    renamed = await client.get(f"/help/{locale}/")
    name = "示例&lt;钱包&gt;" if locale == "zh-CN" else "Sample &lt;Pay&gt;"
    assert f"<title>{name} {site}</title>" in renamed.text
    assert "WalletDesk" not in renamed.text
    contact = await client.get(f"/help/{locale}/contact")
    assert (
        f"<title>{'联系我们' if locale == 'zh-CN' else 'Contact us'} · {name} {site}</title>"
        in (contact.text)
    )

    # No brand for this locale, or a broken file: a neutral name, and the pages still work.
    use("unnamed.json", json.dumps({"brand": {}, "channels": []}))
    neutral = await client.get(f"/help/{locale}/")
    assert f"<title>{site}</title>" in neutral.text
    assert f'<a class="brand" href="/help/{locale}/"><span>{site}</span></a>' in neutral.text
    use("broken.json", "{not json")
    broken = await client.get(f"/help/{locale}/")
    assert broken.status_code == 200 and f"<title>{site}</title>" in broken.text


async def test_robots_txt_points_crawlers_at_the_help_center_and_its_sitemap(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "Allow: /help/" in lines
    assert {"Disallow: /console/", "Disallow: /api/", "Disallow: /webchat/"} <= set(lines)
    base = runtime.settings.base_url.rstrip("/")
    assert f"Sitemap: {base}/help/sitemap.xml" in lines
