"""The parser on its own: quote stripping, headers, and Hypothesis throwing anything at it."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.email.mail import b64, encoded_word, multipart_email, text_email
from walletdesk.channels.email.charsets import decode_bytes, decode_header_value
from walletdesk.channels.email.parsing import ParsedEmail, parse_email
from walletdesk.channels.email.quotes import visible_reply

QUOTED_REPLIES = {
    "chinese client": "好的\n\n在 2026年11月26日 周四 10:02,张三 写道:\n> 旧内容",
    "qq mail": "好的\n\n------------------ 原始邮件 ------------------\n发件人: 客服\n旧内容",
    "163 mail": "好的\n\n张三 <zs@163.com> 于2026年11月26日周四 上午10:02写道：\n> 旧内容",
    "outlook zh": "好的\n\n发件人: 客服 <s@walletdesk.test>\n发送时间: 2026年11月26日 10:02\n旧",
    "outlook en": "好的\n\n________________________________\nFrom: Support\nSent: Thursday\nold",
    "gmail en": "好的\n\nOn Thu, Nov 26, 2026 at 10:02 AM Support <s@walletdesk.test> wrote:\n> o",
    "gmail wrapped": (
        "好的\n\nOn Thu, Nov 26, 2026 at 10:02 AM Support Team\n<s@walletdesk.test> wrote:\n> old"
    ),
    "signature": "好的\n-- \n张三\n138 0013 8000",
    "mobile": "好的\n\n发自我的iPhone",
    "bare quotes": "好的\n\n> 旧内容\n> 更旧的内容",
}


@pytest.mark.parametrize("name", list(QUOTED_REPLIES))
def test_quoted_history_and_signatures_are_cut(name: str) -> None:
    assert visible_reply(QUOTED_REPLIES[name]) == "好的"


def test_a_reply_that_is_only_a_quote_keeps_everything() -> None:
    text = "在 2026年11月26日 周四 10:02,张三 写道:\n> 旧内容"
    assert visible_reply(text) == text


def test_inline_answers_between_quotes_are_kept() -> None:
    text = "> 您的订单号？\n20261126001\n> 金额？\n500 元"
    assert visible_reply(text) == text


def test_header_decoding_never_fails() -> None:
    assert decode_header_value("=?utf-8?B?5L2g5aW9?= =?utf-8?B?5LiW55WM?=") == "你好世界"
    assert decode_header_value("=?x-unknown?B?5L2g5aW9?=") == "你好"
    assert decode_header_value("=?utf-8?B?!!!?=") == ""
    assert decode_header_value("plain\r\n folded") == "plain folded"
    assert decode_header_value("=?utf-8?Q?=E4=BD=A0=E5=A5=BD?= there") == "你好 there"
    assert decode_bytes("中文".encode("gb18030"), "x-unknown") == "中文"


SEEDS = [
    text_email(
        sender="a@example.cn",
        message_id="<seed1@example.cn>",
        subject=encoded_word("转账失败", "gbk"),
        body="您好\n\n在 2026年11月26日 周四 10:02,张三 写道:\n> 旧",
        charset="gb18030",
    ),
    multipart_email(
        sender="b@example.cn",
        message_id="<seed2@example.cn>",
        subject="=?utf-8?B?" + base64.b64encode("截图".encode()).decode() + "?=",
        kind="alternative",
        parts=[
            ({"Content-Type": "text/plain; charset=utf-8"}, "正文".encode()),
            (
                {"Content-Type": "text/html; charset=gbk", "Content-Transfer-Encoding": "base64"},
                b64("<p onclick=x>正文<script>bad()</script></p>".encode("gbk")),
            ),
            (
                {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": "attachment; filename*=gbk''%D5%CB%B5%A5.pdf",
                    "Content-Transfer-Encoding": "base64",
                },
                b64(b"%PDF-1.4 tiny"),
            ),
        ],
    ),
    multipart_email(
        sender="MAILER-DAEMON@mx.example.cn",
        message_id="<seed3@example.cn>",
        subject="Undelivered",
        kind="report",
        extra_params="; report-type=delivery-status",
        parts=[
            ({"Content-Type": "text/plain"}, b"could not deliver"),
            ({"Content-Type": "message/delivery-status"}, b"Action: failed\r\nStatus: 5.1.1\r\n"),
            ({"Content-Type": "message/rfc822"}, b"Message-ID: <orig@walletdesk.test>\r\n\r\nx"),
        ],
    ),
]


def _check(parsed: ParsedEmail) -> None:
    assert isinstance(parsed, ParsedEmail)
    assert parsed.message_id.startswith("<") and len(parsed.message_id) <= 200
    assert parsed.text.strip() or parsed.attachments
    for value in (
        parsed.subject,
        parsed.from_name,
        parsed.text,
        parsed.full_text,
        parsed.html or "",
        *(a.filename for a in parsed.attachments),
        *(a.content_type for a in parsed.attachments),
    ):
        value.encode("utf-8")  # storable: no lone surrogates
        assert "\x00" not in value
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    assert "<script" not in (parsed.html or "").lower()
    for reference in parsed.thread_ids:
        assert len(reference) <= 200


def test_the_seeds_parse_as_expected() -> None:
    first, second, bounce = (parse_email(seed) for seed in SEEDS)
    assert (first.subject, first.text) == ("转账失败", "您好")
    assert second.text == "正文" and second.html == "<p>正文</p>"
    assert [a.filename for a in second.attachments] == ["账单.pdf"]
    assert bounce.bounce is not None and bounce.bounce.failed
    assert "<orig@walletdesk.test>" in bounce.bounce.original_ids


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash_the_parser(raw: bytes) -> None:
    _check(parse_email(raw))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            chunk = draw(
                st.sampled_from(
                    [b"\r\n", b"--", b"=?", b"?=", b"\x00", b"\xff\xfe", b"boundary=", b";", b'"']
                )
                | st.binary(max_size=20)
            )
            data[position:position] = chunk
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif action == "truncate":
            del data[position:]
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 200))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_real_messages_never_crash_the_parser(raw: bytes) -> None:
    _check(parse_email(raw))


header_names = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Authentication-Results",
    ]
)
charsets = st.sampled_from(["utf-8", "gb2312", "gbk", "gb18030", "big5", "x-bogus", "base64", ""])


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(header_names)
        charset = draw(charsets)
        text = draw(st.text(max_size=60))
        if draw(st.booleans()):
            codec = charset if charset not in ("", "x-bogus", "base64") else "utf-8"
            try:
                payload = base64.b64encode(text.encode(codec, errors="replace")).decode()
            except LookupError:
                payload = ""
            value = f"=?{charset}?B?{payload}?="
        else:
            value = text
        lines.append(f"{name}: {value}".encode("utf-8", errors="surrogateescape"))
    body = draw(st.binary(max_size=600))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@FUZZ
@given(structured())
def test_random_headers_in_random_charsets_never_crash_the_parser(raw: bytes) -> None:
    _check(parse_email(raw))
