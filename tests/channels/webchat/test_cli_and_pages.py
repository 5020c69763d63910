"""`walletdesk webchat site …`, the served files, the demo page and the suggestions hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.channels.webchat.conftest import ORIGIN, ChatServer, SiteInfo
from walletdesk.channels.webchat import suggestions
from walletdesk.cli import app
from walletdesk.migrate import upgrade
from walletdesk.settings import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("WALLETDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WALLETDESK_DATABASE_URL", "")
    monkeypatch.setenv("WALLETDESK_BASE_URL", "https://desk.example")
    get_settings.cache_clear()
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'walletdesk.db'}")
    yield tmp_path
    get_settings.cache_clear()


def test_site_add_and_list(cli_env: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "webchat",
            "site",
            "add",
            "--name",
            "钱包官网",
            "--origin",
            "https://Wallet.Example/",
            "--origin",
            "https://m.wallet.example",
            "--hours",
            "1-5 09:00-18:00 Asia/Shanghai",
        ],
    )
    assert added.exit_code == 0, added.output
    key = added.output.split("site key:")[1].split()[0]
    assert key.startswith("ws_")
    assert "identity secret:" in added.output
    assert f'<script src="https://desk.example/webchat/widget.js" data-site="{key}"' in added.output

    listed = runner.invoke(app, ["webchat", "site", "list"])
    assert listed.exit_code == 0
    assert (
        key in listed.output and "https://m.wallet.example https://wallet.example" in listed.output
    )
    assert added.output.split("identity secret:")[1].split()[0] not in listed.output

    bad = runner.invoke(app, ["webchat", "site", "add", "--name", "x", "--origin", "wallet"])
    assert bad.exit_code == 1
    assert "is not an origin" in bad.output
    assert "Traceback" not in bad.output
    hours = runner.invoke(
        app,
        [
            "webchat",
            "site",
            "add",
            "--name",
            "x",
            "--origin",
            "https://a.example",
            "--hours",
            "always",
        ],
    )
    assert hours.exit_code == 1 and "write hours as" in hours.output


async def test_widget_files_and_demo_page(chat: ChatServer, site: SiteInfo) -> None:
    async with httpx.AsyncClient(base_url=chat.url) as http:
        script = await http.get("/webchat/widget.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "attachShadow" in script.text and "innerHTML" not in script.text
        css = await http.get("/webchat/static/widget.css")
        assert css.headers["content-type"].startswith("text/css")
        panel = await http.get("/webchat/static/agent-panel.js")
        assert panel.status_code == 200 and "innerHTML" not in panel.text
        for probe in ("../models.py", "..%2Fmodels.py", "nope.js"):
            assert (await http.get(f"/webchat/static/{probe}")).status_code == 404
        demo = await http.get("/webchat/demo", params={"site": site.key, "locale": "en"})
        assert demo.status_code == 200
        assert f'data-site="{site.key}"' in demo.text
        escaped = await http.get("/webchat/demo", params={"site": '"><script>x</script>'})
        assert "<script>x</script>" not in escaped.text


async def test_suggestions_extension_point(chat: ChatServer, site: SiteInfo) -> None:
    async def articles(
        runtime: object, site_key: str, query: str, locale: str
    ) -> list[suggestions.Suggestion]:
        assert site_key == site.key
        return [
            suggestions.Suggestion("如何解冻账户", "https://help.wallet.example/a/1", "…"),
            suggestions.Suggestion("bad", "javascript:alert(1)"),
        ]

    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        suggestions.set_provider(articles)
        try:
            found = await http.get(
                "/webchat/api/suggestions", params={"site": site.key, "q": "账户冻结"}
            )
        finally:
            suggestions.set_provider(suggestions.help_center_articles)
        assert found.headers["access-control-allow-origin"] == ORIGIN
        assert [s["title"] for s in found.json()["suggestions"]] == ["如何解冻账户"]
        foreign = await http.get(
            "/webchat/api/suggestions",
            params={"site": site.key, "q": "x"},
            headers={"Origin": "http://evil.test"},
        )
        assert foreign.status_code == 403


async def test_agent_workspace_needs_a_console_session(chat: ChatServer) -> None:
    async with httpx.AsyncClient(base_url=chat.url) as http:
        page = await http.get("/console/chat/")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/console/login")
