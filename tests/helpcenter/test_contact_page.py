"""The contact page against the channels' real settings: email addresses the email channel
accepts, and the business hours of the chat site a chat channel names."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique
from walletdesk.app import create_app
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.settings import EmailSettings
from walletdesk.channels.webchat.sites import create_site, parse_business_hours
from walletdesk.core.actors import SYSTEM
from walletdesk.core.errors import DomainError
from walletdesk.helpcenter.contact import (
    check_contact_emails,
    site_hours_text,
    unaccepted_emails,
)
from walletdesk.helpcenter.official_channels import ENV_VAR, load_official_channels
from walletdesk.runtime import Runtime


def _receiving_mail(runtime: Runtime, addresses: str, **settings: str) -> None:
    """Give the runtime an email channel that accepts `addresses` (IMAP, so no server)."""
    values = {"smtp_listen": "", "imap_url": "imaps://u:p@127.0.0.1:1/INBOX"} | settings
    email = EmailSettings(  # type: ignore[call-arg]
        _env_file=None, support_addresses=addresses, mail_from="noreply@mail.example", **values
    )
    runtime.channels.register(EmailAdapter(runtime, email))


def _channel_file(tmp_path: Path, *emails: str) -> Path:
    path = tmp_path / f"{unique('channels')}.json"
    channels = [{"kind": "email", "value": e, "label": {"en": "Mail"}} for e in emails]
    path.write_text(json.dumps({"brand": {}, "channels": channels}), encoding="utf-8")
    return path


def test_shipped_contact_page_matches_the_default_email_settings() -> None:
    defaults = EmailSettings(_env_file=None)  # type: ignore[call-arg]
    listed = [c.value for c in load_official_channels().of_kind("email")]
    assert listed and unaccepted_emails(load_official_channels(), defaults.addresses) == []


async def test_contact_emails_the_email_channel_refuses_are_logged_once(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, stray = f"{unique('help')}@ours.example", f"{unique('old')}@elsewhere.example"
    monkeypatch.setenv(ENV_VAR, str(_channel_file(tmp_path, ours.upper(), stray)))
    _receiving_mail(runtime, f"{ours},complaints@ours.example=complaint")
    caplog.set_level(logging.WARNING, logger="walletdesk.helpcenter.contact")

    # At start-up (the help center's router adds its check to the app's lifespan) ...
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and stray in warnings[0] and ours not in warnings[0].split(" on ")[0]
    assert "WALLETDESK_SUPPORT_ADDRESSES" in warnings[0]
    # ... and on the contact page's load, which says nothing new for the same problem.
    assert (await client.get("/help/en/contact")).status_code == 200
    assert (await client.get("/help/zh-CN/contact")).status_code == 200
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    # Once the address is accepted, nothing is wrong.
    _receiving_mail(runtime, f"{ours},{stray.upper()}")
    assert check_contact_emails(runtime) == []
    # A node that receives no mail (no SMTP server, no mailbox) has nothing to check.
    _receiving_mail(runtime, ours, imap_url="")
    assert check_contact_emails(runtime) == []
    _receiving_mail(runtime, ours, smtp_listen="127.0.0.1:0", imap_url="")
    assert check_contact_emails(runtime) == [stray]


@pytest.mark.parametrize(
    ("hours", "zh", "en"),
    [
        (None, "每天 24 小时", "24 hours a day, every day"),
        ("1-5 09:00-18:00 Asia/Shanghai", "周一至周五 09:00–18:00（Asia/Shanghai 时间）",
         "Mon–Fri 09:00–18:00 (Asia/Shanghai time)"),
        ("1-7 08:00-22:00 Asia/Hong_Kong", "每天 08:00–22:00（Asia/Hong_Kong 时间）",
         "Every day 08:00–22:00 (Asia/Hong_Kong time)"),
        ("6-6 10:00-16:00 UTC", "周六 10:00–16:00（UTC 时间）", "Sat 10:00–16:00 (UTC time)"),
    ],
)  # fmt: skip
def test_chat_site_hours_are_said_in_both_languages(hours: str | None, zh: str, en: str) -> None:
    stored = parse_business_hours(hours) if hours else None
    assert (site_hours_text(stored, "zh-CN"), site_hours_text(stored, "en")) == (zh, en)


async def test_a_chat_channel_shows_its_chat_sites_hours(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, gone = unique("Help site "), unique("Gone site ")
    async with runtime.db.transaction() as session:
        await create_site(
            session, SYSTEM, name=name, origins=["https://wallet.example"],
            business_hours=parse_business_hours("1-5 09:00-18:00 Asia/Shanghai"),
        )  # fmt: skip
    chat = {"kind": "chat", "label": {"zh-CN": "网页客服", "en": "Web chat"},
            "hours": {"zh-CN": "每天 24 小时", "en": "Around the clock"}}  # fmt: skip
    path = tmp_path / f"{unique('channels')}.json"
    path.write_text(
        json.dumps({"brand": {}, "channels": [
            chat | {"value": "https://wallet.example/chat", "site": name},
            chat | {"value": "https://old.example/chat", "site": gone},
        ]}),
        encoding="utf-8",
    )  # fmt: skip
    monkeypatch.setenv(ENV_VAR, str(path))
    caplog.set_level(logging.WARNING, logger="walletdesk.helpcenter.contact")

    zh = await client.get("/help/zh-CN/contact")
    assert "服务时间: 周一至周五 09:00–18:00（Asia/Shanghai 时间）" in zh.text
    en = await client.get("/help/en/contact")
    assert "Hours: Mon–Fri 09:00–18:00 (Asia/Shanghai time)" in en.text
    # The site that does not exist: the file's hours, and one warning however often.
    assert "Hours: Around the clock" in en.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and gone in warnings[0]


def test_a_site_is_only_for_chat_channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "channels.json"
    phone = {"kind": "phone", "value": "+1 202-555-0142", "label": {"en": "Hotline"}, "site": "x"}
    path.write_text(json.dumps({"brand": {}, "channels": [phone]}), encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DomainError, match="only a chat channel can name a chat site"):
        load_official_channels()
