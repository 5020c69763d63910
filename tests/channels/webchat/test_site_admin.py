"""Chat sites in the console: administrators add, change, turn off and on, reveal and rotate;
nobody else may; every form needs the session's token; bad input is answered on the form."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.channels.webchat.conftest import (
    ORIGIN,
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    open_customer,
    signed,
    start_server,
)
from tests.channels.webchat.conftest import (
    test_settings as chat_settings,
)
from tests.conftest import make_agent
from tests.console.conftest import csrf_in, sign_in
from walletdesk.channels import install_channels
from walletdesk.channels.webchat.identity import identity_signature
from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.channels.webchat.sites import (
    normalize_origin,
    reveal_identity_secret,
    rotate_identity_secret,
    set_site_active,
    update_site,
)
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.service import actor_for
from walletdesk.core.attachments.storage import LocalFileStore
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.errors import InvalidInput, PermissionDenied
from walletdesk.core.events import RedisEventBus
from walletdesk.db import Database
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings

SITES = "/console/admin/chat-sites"
README = Path(__file__).resolve().parents[3] / "README.md"
ALWAYS = {"hours_mode": "always"}


async def site_row(db: Database, key: str) -> WebchatSite:
    async with db.transaction() as session:
        row = await session.scalar(select(WebchatSite).where(WebchatSite.key == key))
        assert row is not None
        return row


async def site_count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(WebchatSite)) or 0)


async def audit_of(db: Database, key: str) -> list[tuple[str, int | None, dict[str, Any]]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail)
            .where(AuditEvent.target_kind == "webchat_site", AuditEvent.target_id == key)
            .order_by(AuditEvent.id)
        )
        return [(action, actor, dict(detail)) for action, actor, detail in rows]


def secret_on(page: httpx.Response) -> str:
    match = re.search(r"data-secret>([^<]+)<", page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def snippet_on(page: httpx.Response, kind: str = "full") -> str:
    match = re.search(rf'data-snippet="{kind}">(.*?)</textarea>', page.text, re.S)
    assert match, page.text
    return html.unescape(match.group(1))


async def admin_client(client: httpx.AsyncClient, db: Database, locale: str = "en") -> str:
    """Signs an administrator in on `client`; the session's CSRF token."""
    return await sign_in(client, await make_agent(db, "admin", 3, locale))


# --- who may ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_administrators_manage_chat_sites(
    client: httpx.AsyncClient, db: Database, role: str
) -> None:
    site = await make_site(db)
    csrf = await sign_in(client, await make_agent(db, role, 1))
    assert SITES not in (await client.get("/console/")).text  # no link in the menu
    for url in (SITES, f"{SITES}/new", f"{SITES}/{site.key}", f"{SITES}/{site.key}/rotate-secret"):
        page = await client.get(url)
        assert page.status_code == 403, url
        assert "Only administrators may manage chat sites." in page.text
    posts = {
        f"{SITES}/new": {"name": "Forged", "origins": ORIGIN, **ALWAYS},
        f"{SITES}/{site.key}": {"name": "Forged", "origins": "https://evil.example", **ALWAYS},
        f"{SITES}/{site.key}/active": {"active": "0"},
        f"{SITES}/{site.key}/secret": {},
        f"{SITES}/{site.key}/rotate-secret": {},
    }
    sites_before = await site_count(db)
    for url, data in posts.items():
        response = await client.post(url, data={"csrf": csrf, **data})
        assert response.status_code == 403, url
        assert site.secret not in response.text
    row = await site_row(db, site.key)
    assert (row.allowed_origins, row.is_active, row.identity_secret) == (
        [ORIGIN],
        True,
        site.secret,
    )
    assert await site_count(db) == sites_before
    assert [a for a, _, _ in await audit_of(db, site.key)] == ["webchat.site_created"]


async def test_administrators_see_the_link_and_the_list(
    client: httpx.AsyncClient, db: Database
) -> None:
    site = await make_site(db, origins=(ORIGIN, "https://m.wallet.example"))
    await make_site(db)
    async with db.transaction() as session:
        await set_site_active(session, SYSTEM, site.key, active=False)
    await admin_client(client, db)
    inbox = await client.get("/console/")
    assert f'<a href="{SITES}">Chat sites</a>' in inbox.text
    listing = await client.get(SITES)
    assert listing.status_code == 200
    row = re.search(rf'<tr>\s*<td[^>]*><a href="{SITES}/{site.key}">.*?</tr>', listing.text, re.S)
    assert row, listing.text
    for shown in (site.key, ORIGIN, "https://m.wallet.example", "Inactive", "<time datetime="):
        assert shown in row.group(0)
    assert site.secret not in listing.text


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get(SITES)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")


async def test_the_service_refuses_anyone_but_administrators(db: Database) -> None:
    site = await make_site(db)
    supervisor = await make_agent(db, "supervisor", 3)
    actor = actor_for(supervisor.agent)
    async with db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await reveal_identity_secret(session, actor, site.key)
        with pytest.raises(PermissionDenied):
            await rotate_identity_secret(session, actor, site.key)
        with pytest.raises(PermissionDenied):
            await update_site(session, actor, site.key, name="x")
    assert (await site_row(db, site.key)).identity_secret == site.secret


# --- the whole life of a site, on a running server ----------------------------------------


async def test_add_edit_turn_off_reveal_and_rotate_on_a_running_server(
    chat: ChatServer, db: Database
) -> None:
    admin = await make_agent(db, "admin", 3)
    async with httpx.AsyncClient(base_url=chat.url) as http:
        csrf = await sign_in(http, admin)
        form = await http.get(f"{SITES}/new")
        assert form.status_code == 200 and csrf_in(form.text) == csrf
        added = await http.post(
            f"{SITES}/new",
            data={"csrf": csrf, "name": "钱包官网", "origins": f"{ORIGIN}/\n", **ALWAYS},
        )
        assert added.status_code == 303
        key = added.headers["location"].rsplit("/", 1)[1]
        page = await http.get(added.headers["location"])
        assert "Chat site 钱包官网 added." in page.text
        row = await site_row(db, key)
        site = SiteInfo(row.id, key, row.identity_secret)
        assert (row.name, row.allowed_origins, row.is_active) == ("钱包官网", [ORIGIN], True)
        assert row.identity_secret not in page.text  # hidden until revealed

        first, _ = await customer(chat, site)  # the server has the site cached now
        await first.close()

        saved = await http.post(
            f"{SITES}/{key}",
            data={
                "csrf": csrf,
                "name": "钱包 App",
                "origins": "https://wallet.example:443, https://m.wallet.example\n" + ORIGIN,
                "hours_mode": "hours",
                "first_day": "1",
                "last_day": "5",
                "opens": "09:00",
                "closes": "18:00",
                "timezone": "Asia/Shanghai",
            },
        )
        assert saved.status_code == 303, saved.text
        row = await site_row(db, key)
        assert row.name == "钱包 App"
        assert row.allowed_origins == [ORIGIN, "https://m.wallet.example", "https://wallet.example"]
        assert row.business_hours == {
            "timezone": "Asia/Shanghai",
            "days": [1, 2, 3, 4, 5],
            "open": "09:00",
            "close": "18:00",
        }
        page = await http.get(f"{SITES}/{key}")
        assert "Chat site saved." in page.text and "Monday–Friday 09:00–18:00" in page.text

        off = await http.post(f"{SITES}/{key}/active", data={"csrf": csrf, "active": "0"})
        assert off.status_code == 303
        assert not (await site_row(db, key)).is_active
        refused = await open_customer(chat, site)
        assert (await refused.expect("error"))["code"] == "site_inactive"
        assert await refused.closed() == 4403
        async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as widget:
            offline = await widget.post(
                f"/webchat/api/offline?site={key}", json={"message": "hi", "email": "a@example.com"}
            )
            assert (offline.status_code, offline.json()["code"]) == (403, "site_inactive")
        listing = await http.get(SITES)
        assert "Inactive" in listing.text

        on = await http.post(f"{SITES}/{key}/active", data={"csrf": csrf, "active": "1"})
        assert on.status_code == 303
        back, _ = await customer(chat, site)
        await back.close()

        revealed = await http.post(f"{SITES}/{key}/secret", data={"csrf": csrf})
        assert revealed.status_code == 200
        assert secret_on(revealed) == site.secret
        assert revealed.headers["cache-control"] == "no-store"

        confirm = await http.get(f"{SITES}/{key}/rotate-secret")
        assert confirm.status_code == 200 and "Rotate the secret now" in confirm.text
        assert (await site_row(db, key)).identity_secret == site.secret  # asking changes nothing
        rotated = await http.post(f"{SITES}/{key}/rotate-secret", data={"csrf": csrf})
        assert rotated.status_code == 200 and "Shown once" in rotated.text
        new_secret = secret_on(rotated)
        assert new_secret != site.secret
        assert (await site_row(db, key)).identity_secret == new_secret
        assert new_secret not in (await http.get(f"{SITES}/{key}")).text

    old = await open_customer(chat, site, hello={"identity": signed(site, "u_1")})
    assert (await old.expect("error"))["code"] == "bad_identity"
    expires = int(time.time()) + 3600
    fresh = {
        "user_id": "u_1",
        "expires": expires,
        "signature": identity_signature(new_secret, "u_1", expires),
    }
    verified, welcome = await customer(chat, site, identity=fresh)
    assert welcome["verified"] is True
    await verified.close()

    audit = await audit_of(db, key)
    assert [action for action, _, _ in audit] == [
        "webchat.site_created",
        "webchat.site_updated",
        "webchat.site_deactivated",
        "webchat.site_activated",
        "webchat.site_secret_viewed",
        "webchat.site_secret_rotated",
    ]
    assert {actor for _, actor, _ in audit} == {admin.agent.id}
    assert set(audit[1][2]) == {"name", "origins", "business_hours"}
    for _, _, detail in audit:
        assert site.secret not in str(detail) and new_secret not in str(detail)


# --- bad input ------------------------------------------------------------------------------


async def test_mistakes_are_shown_on_the_form_with_what_was_typed(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await admin_client(client, db)
    before = await site_count(db)
    typed = {
        "name": "   ",
        "origins": "https://wallet.example/pay\nftp://files.example\nhttp://a:abc\nhttps://ok.example",
        "hours_mode": "hours",
        "first_day": "5",
        "last_day": "1",
        "opens": "09:00",
        "closes": "18:00",
        "timezone": "Mars/Olympus",
    }
    page = await client.post(f"{SITES}/new", data={"csrf": csrf, **typed})
    assert page.status_code == 422
    assert "Enter a name of one line, such as Wallet website." in page.text
    assert "Not an origin: “https://wallet.example/pay”, “ftp://files.example”" in page.text
    assert "http://a:abc" in page.text and "Choose the first and last day" in page.text
    assert html.escape(typed["origins"]) in page.text  # the textarea keeps every line
    assert 'value="Mars/Olympus"' in page.text
    assert re.search(r'<option value="5" selected>', page.text)
    assert await site_count(db) == before

    empty = await client.post(
        f"{SITES}/new", data={"csrf": csrf, "name": "Wallet", "origins": " \n ", **ALWAYS}
    )
    assert empty.status_code == 422 and "Enter the origins the widget may run on" in empty.text
    assert 'value="Wallet"' in empty.text

    site = await make_site(db)
    stored_name = (await site_row(db, site.key)).name
    edit = await client.post(
        f"{SITES}/{site.key}",
        data={"csrf": csrf, "name": "Renamed", "origins": "wallet.example", **ALWAYS},
    )
    assert edit.status_code == 422
    assert "Not an origin: “wallet.example”" in edit.text and 'value="Renamed"' in edit.text
    same = await client.post(
        f"{SITES}/{site.key}",
        data={
            "csrf": csrf,
            "name": "Renamed",
            "origins": ORIGIN,
            "hours_mode": "hours",
            "first_day": "1",
            "last_day": "7",
            "opens": "09:00",
            "closes": "09:00",
            "timezone": "UTC",
        },
    )
    assert same.status_code == 422 and "different from each other" in same.text
    row = await site_row(db, site.key)
    assert (row.name, row.allowed_origins, row.business_hours) == (stored_name, [ORIGIN], None)
    assert [a for a, _, _ in await audit_of(db, site.key)] == ["webchat.site_created"]


async def test_no_bad_input_makes_a_server_error(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await admin_client(client, db)
    site = await make_site(db)
    many = "\n".join(f"https://s{i}.wallet.example" for i in range(60))
    odd_origins = ["http://[::1", "http://a:99999", "https://u:p@a.example", "http://a b", "\x00"]
    attempts: list[tuple[str, dict[str, str], int]] = [
        (f"{SITES}/new", {}, 422),
        (f"{SITES}/new", {"name": "x" * 5000, "origins": ORIGIN, "hours_mode": "sometimes"}, 422),
        (f"{SITES}/new", {"name": "Many", "origins": many, **ALWAYS}, 422),
        # A NUL anywhere in a console form is refused before the route (400), the rest 422.
        (f"{SITES}/new", {"name": "Odd", "origins": "\n".join(odd_origins), **ALWAYS}, 400),
        (f"{SITES}/new", {"name": "Z", "origins": ORIGIN, "hours_mode": "hours"}, 422),
        (
            f"{SITES}/new",
            {"name": "Z", "origins": ORIGIN, "hours_mode": "hours", "timezone": "a/" * 300},
            422,
        ),
        (f"{SITES}/{site.key}", {"name": "", "origins": ""}, 422),
        (f"{SITES}/{site.key}", {"name": "a\x00b", "origins": ORIGIN, **ALWAYS}, 400),
        (f"{SITES}/new", {"name": "two\nlines", "origins": ORIGIN, **ALWAYS}, 422),
        (f"{SITES}/{site.key}/active", {"active": "maybe"}, 400),
        (f"{SITES}/{site.key}/active", {}, 400),
        (f"{SITES}/ws_nosuchsite", {"name": "n", "origins": ORIGIN, **ALWAYS}, 404),
        (f"{SITES}/ws_nosuchsite/secret", {}, 404),
        (f"{SITES}/{'k' * 500}/rotate-secret", {}, 404),
        (f"{SITES}/ws_nosuchsite/active", {"active": "0"}, 404),
    ]
    for url, data, status in attempts:
        response = await client.post(url, data={"csrf": csrf, **data})
        assert response.status_code == status, (url, data, response.text[:300])
    for url in (f"{SITES}/ws_nosuchsite", f"{SITES}/%00", f"{SITES}/{'k' * 500}"):
        assert (await client.get(url)).status_code == 404, url
    assert [a for a, _, _ in await audit_of(db, site.key)] == ["webchat.site_created"]


async def test_forms_without_the_session_token_change_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await admin_client(client, db)
    site = await make_site(db)
    stored_name = (await site_row(db, site.key)).name
    before = await site_count(db)
    posts = {
        f"{SITES}/new": {"name": "Forged", "origins": ORIGIN, **ALWAYS},
        f"{SITES}/{site.key}": {"name": "Forged", "origins": "https://evil.example", **ALWAYS},
        f"{SITES}/{site.key}/active": {"active": "0"},
        f"{SITES}/{site.key}/secret": {},
        f"{SITES}/{site.key}/rotate-secret": {},
    }
    for url, data in posts.items():
        for token in ({}, {"csrf": ""}, {"csrf": "guessed"}):
            response = await client.post(url, data={**token, **data})
            assert response.status_code == 403, url
            assert "Nothing was changed" in response.text and site.secret not in response.text
    row = await site_row(db, site.key)
    assert (row.name, row.allowed_origins, row.is_active, row.identity_secret) == (
        stored_name,
        [ORIGIN],
        True,
        site.secret,
    )
    assert await site_count(db) == before
    assert [a for a, _, _ in await audit_of(db, site.key)] == ["webchat.site_created"]


async def test_keys_that_cannot_be_ours_are_unknown_sites(chat: ChatServer) -> None:
    """A NUL byte or a new line in a key never reaches the database (PostgreSQL would fail)."""
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as widget:
        for key in ("\x00", "ws_a\n", "ws_ä"):
            answer = await widget.get("/webchat/api/suggestions", params={"site": key, "q": "x"})
            assert (answer.status_code, answer.json()["code"]) == (404, "unknown_site"), key


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("HTTPS://Wallet.Example:443/", "https://wallet.example"),
        ("http://wallet.example:80", "http://wallet.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://钱包.中国", "https://xn--uir314m.xn--fiqs8s"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(value: str, stored: str) -> None:
    assert normalize_origin(value) == stored


@pytest.mark.parametrize(
    "value",
    [
        "http://a:abc",
        "http://a:99999",
        "http://[::1",
        "https://u:p@a.example",
        "http://a b.example",
        "javascript:alert(1)",
        "https://a.example/path",
        "https://" + "a" * 400,
    ],
)
def test_what_is_not_an_origin_is_refused_as_bad_input(value: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_origin(value)


# --- what the page shows ----------------------------------------------------------------------


async def test_the_snippet_is_the_readme_one_with_this_site(
    client: httpx.AsyncClient, db: Database, runtime: Runtime
) -> None:
    site = await make_site(db)
    await admin_client(client, db)
    page = await client.get(f"{SITES}/{site.key}")
    documented = re.search(r"```html\n(<script src=.*?</script>)\n```", README.read_text(), re.S)
    assert documented, "the README no longer shows the snippet"
    base = runtime.settings.base_url.rstrip("/")
    expected = (
        documented.group(1)
        .replace("https://desk.example", base)
        .replace('data-site="ws_…"', f'data-site="{site.key}"')
    )
    assert snippet_on(page) == expected
    assert snippet_on(page, "anonymous") == (
        f'<script src="{base}/webchat/widget.js" data-site="{site.key}" defer></script>'
    )
    options = re.findall(r'<td class="mono">(data-[^<]+)</td>', page.text)
    assert options == [
        "data-site",
        "data-locale",
        "data-color",
        "data-position",
        "data-user-id, data-user-expires, data-user-signature",
        "data-user-name, data-user-email",
    ]


async def test_names_are_shown_as_typed_never_run(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await admin_client(client, db)
    name = "<img src=x onerror=alert(1)>"
    added = await client.post(
        f"{SITES}/new", data={"csrf": csrf, "name": name, "origins": ORIGIN, **ALWAYS}
    )
    assert added.status_code == 303
    key = added.headers["location"].rsplit("/", 1)[1]
    for url in (added.headers["location"], SITES, f"{SITES}/{key}/rotate-secret"):
        page = await client.get(url)
        assert name not in page.text and html.escape(name, quote=False) in page.text, url


async def test_both_languages(client: httpx.AsyncClient, db: Database) -> None:
    site = await make_site(db)
    csrf = await admin_client(client, db, locale="zh-CN")
    assert "聊天站点" in (await client.get("/console/")).text
    chinese = {
        SITES: ["聊天站点", "站点密钥", "允许的来源", "新建聊天站点"],
        f"{SITES}/new": ["新建聊天站点", "营业时间", "全天开放", "星期一"],
        f"{SITES}/{site.key}": ["嵌入代码", "身份密钥", "显示密钥", "停用", "更换密钥…"],
        f"{SITES}/{site.key}/rotate-secret": ["更换身份密钥", "立即更换密钥", "取消"],
    }
    for url, texts in chinese.items():
        page = await client.get(url)
        assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
        for text in texts:
            assert text in page.text, (url, text)
    refused = await client.post(
        f"{SITES}/new", data={"csrf": csrf, "name": "", "origins": "nope", **ALWAYS}
    )
    assert "请填写一行名称" in refused.text and "不是有效的来源：“nope”" in refused.text

    client.cookies.clear()
    await admin_client(client, db, locale="en")
    english = {
        SITES: ["Chat sites", "Site key", "Allowed origins", "New chat site"],
        f"{SITES}/new": ["New chat site", "Business hours", "Always open", "Monday"],
        f"{SITES}/{site.key}": ["Embed snippet", "Identity secret", "Reveal secret", "Deactivate"],
        f"{SITES}/{site.key}/rotate-secret": ["Rotate identity secret", "Rotate the secret now"],
    }
    for url, texts in english.items():
        page = await client.get(url)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        for text in texts:
            assert text in page.text, (url, text)
        assert "聊天站点" not in page.text


# --- several nodes --------------------------------------------------------------------------


@pytest.fixture
async def two_nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[ChatServer, ChatServer]]:
    """Two servers of one install in this process: PostgreSQL, Redis, one secret key."""
    servers: list[ChatServer] = []
    for name in ("a", "b"):
        settings = Settings(
            data_dir=tmp_path / name,
            database_url=postgres_url,
            redis_url=redis_url,
            secret_key="s" * 32,
            embedded_worker=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        bus = RedisEventBus(redis_url)
        runtime = Runtime(
            settings=settings,
            db=Database(postgres_url, bus=bus),
            bus=bus,
            files=LocalFileStore(tmp_path / name / "attachments"),
        )
        install_channels(runtime)
        servers.append(await start_server(runtime, chat_settings()))
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            await server.stop()
            await server.runtime.close()


async def test_a_change_on_one_node_reaches_the_other_at_once(
    two_nodes: tuple[ChatServer, ChatServer],
) -> None:
    a, b = two_nodes
    site = await make_site(a.runtime.db)
    admin = await make_agent(a.runtime.db, "admin", 3)
    welcomed, _ = await customer(b, site)  # node b now holds the site in its cache
    await welcomed.close()
    async with httpx.AsyncClient(base_url=a.url) as http:
        csrf = await sign_in(http, admin)
        off = await http.post(f"{SITES}/{site.key}/active", data={"csrf": csrf, "active": "0"})
        assert off.status_code == 303
    # Well inside the 30 s the cache would otherwise keep the site: the bus told node b.
    refused = await open_customer(b, site)
    assert (await refused.expect("error", seconds=5))["code"] == "site_inactive"
    assert await refused.closed() == 4403
