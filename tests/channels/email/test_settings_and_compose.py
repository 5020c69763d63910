"""Settings that fail fast, and outgoing emails that keep their headers to themselves."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from pydantic import ValidationError

from tests.channels.email.conftest import make_settings
from walletdesk.channels.email.compose import build_ack, reply_subject, stable_message_id
from walletdesk.channels.email.settings import EmailSettings, parse_server_url


def test_support_addresses_map_to_categories_or_teams_and_bad_ones_are_refused() -> None:
    settings = make_settings(
        25,
        support_addresses=" Support@X.cn , refunds@x.cn=transfer_refund, vip@x.cn=L2 Technical",
    )
    assert {(a.address, a.category, a.team) for a in settings.addresses.values()} == {
        ("support@x.cn", None, None),
        ("refunds@x.cn", "transfer_refund", None),
        ("vip@x.cn", None, "L2 Technical"),
    }
    for bad in ("not-an-address", "@x.cn=complaint"):
        with pytest.raises(ValidationError):
            make_settings(25, support_addresses=bad)
    for listen in ("2525", "host:port", "127.0.0.1:99999"):
        with pytest.raises(ValidationError):
            make_settings(25, smtp_listen=listen)
    assert make_settings(25, smtp_listen="").listen is None


def test_server_urls_are_read_with_their_tls_mode() -> None:
    relay = parse_server_url("smtp://us%40r:p%3Ass@relay.example:2587?starttls=true", ("smtp",))
    assert (relay.host, relay.port, relay.username, relay.password) == (
        "relay.example",
        2587,
        "us@r",
        "p:ss",
    )
    assert relay.starttls and not relay.implicit_tls
    imap = parse_server_url("imaps://u:p@imap.example/客服", ("imap", "imaps"))
    assert (imap.port, imap.implicit_tls, imap.path) == (993, True, "客服")
    with pytest.raises(ValidationError):
        make_settings(25, smtp_url="http://relay.example")
    with pytest.raises(ValidationError):
        EmailSettings(_env_file=None, imap_url="imaps://")  # type: ignore[call-arg]


def test_reply_subjects_carry_the_number_once_and_no_reply_prefix_pile() -> None:
    assert reply_subject("2611260427", "Re: 回复: RE: 转账失败") == "Re: [#2611260427] 转账失败"
    assert reply_subject("2611260427", "Re: [#2611260427] x") == "Re: [#2611260427] x"
    assert (
        reply_subject("2611260427", "a\r\nBcc: evil@x.cn") == "Re: [#2611260427] a Bcc: evil@x.cn"
    )


def test_message_ids_are_stable_per_key() -> None:
    first = stable_message_id("message:1", "2611260427", "walletdesk.test")
    assert first == stable_message_id("message:1", "2611260427", "walletdesk.test")
    assert first != stable_message_id("message:2", "2611260427", "walletdesk.test")
    assert first.endswith(".2611260427@walletdesk.test>")


def test_the_acknowledgement_is_marked_automatic_and_bilingual_by_locale() -> None:
    settings = make_settings(25)
    for locale, expected in (("zh-CN", "我们已收到您的邮件"), ("en", "We have received")):
        mail = build_ack(
            settings,
            to="c@example.cn",
            to_name="张三\r\nBcc: x@y.cn",
            ticket_number="2611260427",
            original_subject="余额\n不对",
            locale=locale,
            message_id="<ack@walletdesk.test>",
            in_reply_to="<m@example.cn>",
            references=["<m@example.cn>"],
        )
        parsed = email.message_from_bytes(mail.as_bytes(), policy=default_policy)
        assert parsed["Auto-Submitted"] == "auto-replied"
        assert parsed["Bcc"] is None
        assert "[#2611260427]" in str(parsed["Subject"])
        body = parsed.get_body(("plain",))
        assert body is not None and expected in body.get_content()
