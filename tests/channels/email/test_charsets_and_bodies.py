"""Chinese clients' charsets, encoded subjects and filenames, HTML and attachments, over SMTP."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from tests.attachments.test_attachments import tiny_png
from tests.channels.email.conftest import (
    messages_of,
    new_address,
    new_message_id,
    send,
    ticket_of,
)
from tests.channels.email.mail import b64, encoded_word, multipart_email, text_email
from walletdesk.channels.email.smtp_server import SmtpServerHandle
from walletdesk.core.attachments.service import attachments_of
from walletdesk.runtime import Runtime

# 镕 and 堃 are in GBK but not GB2312; 䶮 needs GB18030. QQ Mail and 163 label mail GB2312
# and write them anyway.
BODY = "您好，我叫朱镕堃，钱包余额显示不对，转账 ¥500 未到账。䶮"
SUBJECT = "转账未到账（订单 20261126）"

CASES = [
    ("gb2312", "base64", "b"),
    ("gb2312", "quoted-printable", "q"),
    ("gbk", "base64", "b"),
    ("gbk", "quoted-printable", "b"),
    ("gb18030", "base64", "q"),
    ("utf-8", "quoted-printable", "b"),
    ("utf-8", "base64", "q"),
]


@pytest.mark.parametrize(("charset", "cte", "word"), CASES)
async def test_bodies_and_subjects_decode_in_every_chinese_charset(
    email_runtime: Runtime, smtp_server: SmtpServerHandle, charset: str, cte: str, word: str
) -> None:
    # Encode with the wider codec but keep the client's (narrower) label, as they do.
    codec = "gb18030" if charset.startswith("gb") else charset
    message_id = new_message_id()
    raw = text_email(
        sender=new_address(),
        sender_name=encoded_word("朱镕堃", codec, word).replace(codec, charset),
        message_id=message_id,
        subject=encoded_word(SUBJECT, codec, word).replace(codec, charset),
        body=BODY,
        charset=codec,
        cte=cte,
    ).replace(f"charset={codec}".encode(), f"charset={charset}".encode())
    await send(smtp_server.port, raw)

    ticket = await ticket_of(email_runtime, message_id)
    assert ticket.subject == SUBJECT
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == BODY


async def test_a_long_subject_split_inside_a_character_still_decodes(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    data = "我的钱包账户被冻结".encode("gbk")
    # Two encoded words that cut the third character in half.
    import base64

    first = base64.b64encode(data[:5]).decode()
    second = base64.b64encode(data[5:]).decode()
    message_id = new_message_id()
    raw = text_email(
        sender=new_address(),
        message_id=message_id,
        subject=f"=?GBK?B?{first}?=\r\n =?GBK?B?{second}?=",
    )
    await send(smtp_server.port, raw)
    assert (await ticket_of(email_runtime, message_id)).subject == "我的钱包账户被冻结"


async def test_attachments_with_encoded_filenames_and_an_inline_image(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    png = tiny_png()
    statement = "日期,金额\n2026-11-26,500\n".encode("gbk")
    bomb = BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 5_000_000)  # 5 MB of zeros in a few KB
    message_id = new_message_id()
    raw = multipart_email(
        sender=new_address(),
        message_id=message_id,
        subject=encoded_word("截图和账单", "gb2312"),
        parts=[
            (
                {"Content-Type": "text/html; charset=gbk", "Content-Transfer-Encoding": "base64"},
                b64('<p>请看截图：<img src="cid:shot1@qq.com"></p>'.encode("gbk")),
            ),
            (
                {
                    "Content-Type": "image/png",
                    "Content-Transfer-Encoding": "base64",
                    "Content-ID": "<shot1@qq.com>",
                    "Content-Disposition": "inline",
                },
                b64(png),
            ),
            (
                {
                    "Content-Type": f'text/csv; name="{encoded_word("账单.csv", "gbk")}"',
                    "Content-Transfer-Encoding": "base64",
                    "Content-Disposition": (
                        f'attachment; filename="{encoded_word("账单.csv", "gbk")}"'
                    ),
                },
                b64(statement),
            ),
            (
                {
                    "Content-Type": "application/zip",
                    "Content-Transfer-Encoding": "base64",
                    "Content-Disposition": "attachment; filename*=UTF-8''%E5%8E%8B%E7%BC%A9.zip",
                },
                b64(bomb.getvalue()),
            ),
        ],
        kind="related",
    )
    await send(smtp_server.port, raw)

    ticket = await ticket_of(email_runtime, message_id)
    assert ticket.subject == "截图和账单"
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "请看截图："
    async with email_runtime.db.transaction() as session:
        stored = (await attachments_of(session, [message.id]))[message.id]
    by_name = {a.filename: a for a in stored}
    assert set(by_name) == {"attachment-1", "账单.csv", "压缩.zip"}
    image = by_name["attachment-1"]
    assert (image.content_type, image.inline, image.content_id) == (
        "image/png",
        True,
        "shot1@qq.com",
    )
    assert await email_runtime.files.get(by_name["账单.csv"].storage_key) == statement
    # The archive is kept as it came, never unpacked.
    assert by_name["压缩.zip"].size == len(bomb.getvalue())


async def test_html_is_sanitised_and_its_quoted_history_cut(
    email_runtime: Runtime, smtp_server: SmtpServerHandle
) -> None:
    html = (
        "<html><head><style>body{background:url(javascript:alert(1))}</style></head><body>"
        '<p onclick="steal()">我的<b>提现</b>一直在处理中 '
        '<a href="javascript:alert(document.cookie)">详情</a></p>'
        "<script>alert(1)</script>"
        '<div class="gmail_quote">在 2026年11月25日 周三 09:00,客服 写道:'
        "<blockquote>请提供订单号</blockquote></div></body></html>"
    )
    message_id = new_message_id()
    raw = multipart_email(
        sender=new_address(),
        message_id=message_id,
        subject="提现",
        kind="alternative",
        parts=[
            (
                {"Content-Type": "text/html; charset=utf-8", "Content-Transfer-Encoding": "base64"},
                b64(html.encode()),
            )
        ],
    )
    await send(smtp_server.port, raw)
    ticket = await ticket_of(email_runtime, message_id)
    [message] = await messages_of(email_runtime, ticket.id)
    assert message.body_text == "我的提现一直在处理中 详情"
    stored_html = message.body_html or ""
    assert "<b>提现</b>" in stored_html
    for danger in ("script", "onclick", "javascript:", "style", "请提供订单号"):
        assert danger not in stored_html
