"""Test emails built byte by byte, the way real clients (QQ, 163, Foxmail, Outlook) write them."""

from __future__ import annotations

import base64
import quopri
from email.header import Header

CRLF = "\r\n"


def encoded_word(text: str, charset: str, encoding: str = "b") -> str:
    """An RFC 2047 encoded word (or several) in the given charset."""
    if encoding == "b":
        return Header(text, charset).encode()
    data = "".join(
        chr(byte) if chr(byte).isalnum() and byte < 128 else "_" if byte == 32 else f"={byte:02X}"
        for byte in text.encode(charset)
    )
    return f"=?{charset}?Q?{data}?="


def transfer_encode(data: bytes, cte: str) -> str:
    if cte == "base64":
        return base64.encodebytes(data).decode("ascii")
    if cte == "quoted-printable":
        return quopri.encodestring(data).decode("ascii")
    raise ValueError(cte)


def headers(
    *,
    sender: str,
    message_id: str,
    subject: str,
    to: str = "support@walletdesk.test",
    sender_name: str = "",
    extra: dict[str, str] | None = None,
) -> list[str]:
    lines = [
        f"From: {sender_name} <{sender}>" if sender_name else f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Thu, 26 Nov 2026 10:02:00 +0800",
        "MIME-Version: 1.0",
    ]
    lines.extend(f"{name}: {value}" for name, value in (extra or {}).items())
    return lines


def text_email(
    *,
    sender: str,
    message_id: str,
    subject: str = "Hello",
    body: str = "Hello, my transfer failed.",
    charset: str = "utf-8",
    cte: str = "base64",
    extra: dict[str, str] | None = None,
    sender_name: str = "",
    to: str = "support@walletdesk.test",
) -> bytes:
    lines = headers(
        sender=sender,
        message_id=message_id,
        subject=subject,
        extra=extra,
        sender_name=sender_name,
        to=to,
    )
    lines += [f"Content-Type: text/plain; charset={charset}", f"Content-Transfer-Encoding: {cte}"]
    payload = transfer_encode(body.encode(charset), cte)
    return (CRLF.join(lines) + CRLF + CRLF + payload.replace("\n", CRLF)).encode("utf-8")


def multipart_email(
    *,
    sender: str,
    message_id: str,
    subject: str,
    parts: list[tuple[dict[str, str], bytes]],
    kind: str = "mixed",
    extra: dict[str, str] | None = None,
    extra_params: str = "",
) -> bytes:
    """parts: (part headers, already transfer-encoded body) pairs."""
    boundary = "----=_Part_0_1234567890"
    lines = headers(sender=sender, message_id=message_id, subject=subject, extra=extra)
    lines.append(f'Content-Type: multipart/{kind}; boundary="{boundary}"{extra_params}')
    out = CRLF.join(lines).encode() + (CRLF + CRLF).encode()
    for part_headers, body in parts:
        out += f"--{boundary}{CRLF}".encode()
        out += "".join(f"{k}: {v}{CRLF}" for k, v in part_headers.items()).encode()
        out += CRLF.encode() + body + CRLF.encode()
    out += f"--{boundary}--{CRLF}".encode()
    return out


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")
