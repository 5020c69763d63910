"""The official channel list: one file, the contact page, and the "is this ours?" check."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from walletdesk.core.errors import DomainError
from walletdesk.helpcenter.official_channels import ENV_VAR, load_official_channels


def test_shipped_channels_answer_is_official() -> None:
    channels = load_official_channels()
    assert channels.is_official("phone", "+1 (202) 555-0142")
    assert channels.is_official("phone", "+12025550142")
    assert not channels.is_official("phone", "+1 202 555 0143")
    assert channels.is_official("email", "Support@WalletDesk.test")
    assert not channels.is_official("email", "support@walletdesk-help.example")
    assert channels.is_official("social", "@walletdeskhelp")
    assert channels.is_official("web", "https://support.walletdesk.example/chat/")
    assert not channels.is_official("social", "@WalletDeskHe1p")


async def test_the_file_can_be_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient
) -> None:
    path = tmp_path / "channels.json"
    path.write_text(
        json.dumps(
            {
                "brand": {"zh-CN": "测试钱包", "en": "Test Wallet"},
                "channels": [
                    {"kind": "email", "value": "help@test.example",
                     "label": {"zh-CN": "邮件", "en": "Mail <b>us</b>"}},
                ],
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load_official_channels().is_official("email", "help@test.example")
    page = await client.get("/help/en/contact")
    assert "Test Wallet" in page.text and "mailto:help@test.example" in page.text
    assert "Mail &lt;b&gt;us&lt;/b&gt;" in page.text
    assert "support@walletdesk.test" not in page.text


def test_a_broken_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "channels.json"
    path.write_text('{"brand": {}, "channels": [{"kind": "fax"}]}', encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DomainError, match="not a valid channel list"):
        load_official_channels()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.json"))
    with pytest.raises(DomainError, match="cannot read"):
        load_official_channels()
