"""Changing a chat site after it was added: update, deactivate/activate, rotate the secret."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.channels.webchat.conftest import (
    ORIGIN,
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    open_customer,
    signed,
)
from walletdesk.channels.webchat.identity import identity_signature
from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.channels.webchat.sites import (
    parse_business_hours,
    rotate_identity_secret,
    set_site_active,
    update_site,
)
from walletdesk.cli import app
from walletdesk.core.actors import SYSTEM
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.errors import InvalidInput, NotFound
from walletdesk.db import Database
from walletdesk.migrate import upgrade
from walletdesk.settings import get_settings


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("WALLETDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WALLETDESK_DATABASE_URL", "")
    monkeypatch.setenv("WALLETDESK_REDIS_URL", "")
    monkeypatch.setenv("WALLETDESK_BASE_URL", "https://desk.example")
    get_settings.cache_clear()
    url = f"sqlite+aiosqlite:///{tmp_path / 'walletdesk.db'}"
    upgrade(url)
    yield url
    get_settings.cache_clear()


def read_site(url: str, key: str) -> tuple[WebchatSite, list[tuple[str, dict[str, object]]]]:
    async def read() -> tuple[WebchatSite, list[tuple[str, dict[str, object]]]]:
        db = Database(url)
        try:
            async with db.transaction() as session:
                site = await session.scalar(select(WebchatSite).where(WebchatSite.key == key))
                assert site is not None
                audit = (
                    await session.execute(
                        select(AuditEvent.action, AuditEvent.detail)
                        .where(AuditEvent.target_id == key)
                        .order_by(AuditEvent.id)
                    )
                ).all()
                return site, [(action, dict(detail)) for action, detail in audit]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_cli_updates_deactivates_and_rotates(cli_db: str) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["webchat", "site", "add", "--name", "钱包官网", "--origin", "https://wallet.example"]
    )
    assert added.exit_code == 0, added.output
    key = added.output.split("site key:")[1].split()[0]
    first_secret = added.output.split("identity secret:")[1].split()[0]

    updated = runner.invoke(
        app,
        [
            "webchat",
            "site",
            "update",
            key,
            "--name",
            "钱包 App",
            "--origin",
            "https://M.Wallet.Example/",
            "--origin",
            "https://wallet.example",
            "--hours",
            "1-5 09:00-18:00 Asia/Shanghai",
        ],
    )
    assert updated.exit_code == 0, updated.output
    assert "https://m.wallet.example https://wallet.example" in updated.output
    assert "hours: 1-5 09:00-18:00 Asia/Shanghai" in updated.output
    site, _ = read_site(cli_db, key)
    assert site.name == "钱包 App"
    assert site.business_hours == parse_business_hours("1-5 09:00-18:00 Asia/Shanghai")

    # Only what is given changes.
    always = runner.invoke(app, ["webchat", "site", "update", key, "--always-open"])
    assert always.exit_code == 0, always.output
    assert "hours: always open" in always.output
    site, _ = read_site(cli_db, key)
    assert site.business_hours is None and site.name == "钱包 App"
    assert site.allowed_origins == ["https://m.wallet.example", "https://wallet.example"]

    off = runner.invoke(app, ["webchat", "site", "deactivate", key])
    assert off.exit_code == 0 and "inactive" in off.output
    listed = runner.invoke(app, ["webchat", "site", "list"])
    assert f"{key}  钱包 App (inactive)" in listed.output
    on = runner.invoke(app, ["webchat", "site", "activate", key])
    assert (
        on.exit_code == 0
        and "(inactive)" not in runner.invoke(app, ["webchat", "site", "list"]).output
    )

    rotated = runner.invoke(app, ["webchat", "site", "rotate-secret", key])
    assert rotated.exit_code == 0, rotated.output
    new_secret = rotated.output.split("identity secret:")[1].split()[0]
    assert new_secret != first_secret and len(new_secret) >= 40
    site, audit = read_site(cli_db, key)
    assert site.identity_secret == new_secret
    assert [action for action, _ in audit] == [
        "webchat.site_created",
        "webchat.site_updated",
        "webchat.site_updated",
        "webchat.site_deactivated",
        "webchat.site_activated",
        "webchat.site_secret_rotated",
    ]
    assert audit[1][1]["name"] == "钱包 App"
    assert audit[2][1] == {"business_hours": None}
    # The secret never reaches the audit trail.
    assert all(new_secret not in str(detail) for _, detail in audit)

    # Clear errors, no tracebacks.
    for args, says in [
        (["update", "ws_nope", "--name", "x"], "no chat site with key 'ws_nope'"),
        (["deactivate", "ws_nope"], "no chat site with key"),
        (["rotate-secret", "ws_nope"], "no chat site with key"),
        (["update", key], "nothing to change"),
        (["update", key, "--origin", "wallet"], "is not an origin"),
        (["update", key, "--hours", "always"], "write hours as"),
        (["update", key, "--hours", "1-5 09:00-18:00 UTC", "--always-open"], "not both"),
        (["update", key, "--name", "  "], "name: must not be empty"),
    ]:
        result = runner.invoke(app, ["webchat", "site", *args])
        assert result.exit_code == 1, (args, result.output)
        assert says in result.output, (args, result.output)
        assert "Traceback" not in result.output


async def test_service_refuses_unknown_sites_and_bad_values(db: Database, site: SiteInfo) -> None:
    async with db.transaction() as session:
        with pytest.raises(NotFound):
            await set_site_active(session, SYSTEM, "ws_missing", active=False)
        with pytest.raises(InvalidInput):
            await update_site(session, SYSTEM, site.key, origins=[])
        unchanged = await update_site(session, SYSTEM, site.key, origins=[ORIGIN + "/"])
        assert unchanged.allowed_origins == [ORIGIN]
        count = len(
            (
                await session.scalars(
                    select(AuditEvent.id).where(
                        AuditEvent.target_id == site.key,
                        AuditEvent.action == "webchat.site_updated",
                    )
                )
            ).all()
        )
        assert count == 0  # nothing changed, nothing recorded


async def test_a_deactivated_site_is_refused_with_a_clear_error(
    chat: ChatServer, db: Database
) -> None:
    site = await make_site(db)
    # The running server has the site cached; the change reaches it through the bus.
    client, welcome = await customer(chat, site)
    await client.send(type="message", id="m1", text="还在吗")
    await client.expect("ack", id="m1")

    async with db.transaction() as session:
        await set_site_active(session, SYSTEM, site.key, active=False)

    refused = await open_customer(chat, site)
    error = await refused.expect("error")
    assert error["code"] == "site_inactive" and error["fatal"] is True
    assert await refused.closed() == 4403
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        offline = await http.post(
            f"/webchat/api/offline?site={site.key}",
            json={"message": "hi", "email": "a@example.com"},
        )
        assert offline.status_code == 403
        assert offline.json()["code"] == "site_inactive"
        assert offline.headers["access-control-allow-origin"] == ORIGIN
        upload = await http.post(
            "/webchat/api/uploads",
            data={"token": welcome["token"], "id": "f1"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert upload.status_code == 403 and upload.json()["code"] == "site_inactive"
        unknown = await http.get("/webchat/api/suggestions", params={"site": "ws_nope", "q": "x"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_site"

    async with db.transaction() as session:
        await set_site_active(session, SYSTEM, site.key, active=True)
    back, again = await customer(chat, site, token=welcome["token"])
    assert again["conversation"] == welcome["conversation"]
    await back.close()
    await client.close()


async def test_rotated_secret_refuses_the_old_signature_and_accepts_the_new(
    chat: ChatServer, db: Database
) -> None:
    site = await make_site(db)
    before, welcome = await customer(chat, site, identity=signed(site, "u_rotate"))
    assert welcome["verified"] is True
    await before.close()

    async with db.transaction() as session:
        secret = await rotate_identity_secret(session, SYSTEM, site.key)
    assert secret != site.secret

    old = await open_customer(chat, site, hello={"identity": signed(site, "u_rotate")})
    error = await old.expect("error")
    assert error["code"] == "bad_identity"
    assert await old.closed() == 4401

    expires = int(time.time()) + 3600
    fresh = {
        "user_id": "u_rotate",
        "expires": expires,
        "signature": identity_signature(secret, "u_rotate", expires),
    }
    after, welcome = await customer(chat, SiteInfo(site.id, site.key, secret), identity=fresh)
    assert welcome["verified"] is True
    await after.close()


async def test_changed_origins_apply_to_the_running_server(chat: ChatServer, db: Database) -> None:
    site = await make_site(db)
    first, _ = await customer(chat, site)
    await first.close()
    async with db.transaction() as session:
        await update_site(session, SYSTEM, site.key, origins=["https://wallet.example"])
    refused = await open_customer(chat, site)
    assert (await refused.expect("error"))["code"] == "origin_not_allowed"
    assert await refused.closed() == 4403
    allowed = await open_customer(chat, site, origin="https://wallet.example")
    await allowed.expect("welcome")
    await allowed.close()
