"""The new part of a reply: quoted history and signatures cut off, Chinese and English alike.

Only the visible reply is cut; the full original stays in the stored raw message.
"""

from __future__ import annotations

import re

# A line that introduces the quoted history. Chinese clients write
# “在 2026年11月26日 周四 10:02,张三 写道:”, “张三 <a@b.cn> 于2026年11月26日周四 上午10:02写道：”;
# English ones “On Thu, Nov 26, 2026 at 10:02 AM Zhang San <a@b.cn> wrote:”.
_QUOTE_HEADERS = [
    re.compile(r"^\s*在.{0,120}写道\s*[:：]?\s*$"),
    re.compile(r"^.{0,160}于.{0,80}写道\s*[:：]\s*$"),
    re.compile(r"^\s*On\b.{0,200}\bwrote\s*:\s*$", re.IGNORECASE),
    re.compile(
        r"^\s*-{2,}\s*(?:原始邮件|原始郵件|Original Message|Forwarded message)\s*-{2,}", re.I
    ),
    re.compile(r"^\s*-{5,}\s*(?:回复的原邮件|转发的邮件|Reply message)\s*-{5,}", re.IGNORECASE),
    re.compile(r"^\s*_{20,}\s*$"),
]
# Outlook quotes with a header block: “From: …” / “发件人: …” followed by a “Sent:” line.
_BLOCK_FROM = re.compile(r"^\s*\*?(?:From|发件人|寄件者)\s*\*?\s*[:：]", re.IGNORECASE)
_BLOCK_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|发送时间|时间|日期|寄件日期|To|收件人)\s*\*?\s*[:：]", re.IGNORECASE
)
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$")
_MOBILE_SIGNATURES = re.compile(
    r"^\s*(?:Sent from my \w+|Sent from (?:Mail|Outlook) for \w+|Get Outlook for \w+"
    r"|发自我的\s*\w+|从我的\s*\w+\s*发送|发自(?:网易邮箱大师|手机QQ邮箱|QQ邮箱|Foxmail|我的手机)"
    r"|来自(?:网易邮箱大师|QQ邮箱|手机QQ邮箱|我的手机))\s*$",
    re.IGNORECASE,
)


def _quote_header_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if any(pattern.match(line) for pattern in _QUOTE_HEADERS):
        return True
    # “On Thu, 26 Nov 2026, Zhang San <zs@example.cn>\nwrote:” split over two lines.
    if index + 1 < len(lines) and re.match(r"^\s*On\b", line, re.IGNORECASE):
        joined = f"{line} {lines[index + 1]}"
        if _QUOTE_HEADERS[2].match(joined):
            return True
    if _BLOCK_FROM.match(line):
        following = [ln for ln in lines[index + 1 : index + 4] if ln.strip()]
        return bool(following) and bool(_BLOCK_NEXT.match(following[0]))
    return False


def visible_reply(text: str) -> str:
    """The reply without quoted history or signature; the whole text if that would leave nothing."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = len(lines)
    for index in range(len(lines)):
        if _quote_header_at(lines, index) or _SIGNATURE_DELIMITER.match(lines[index]):
            end = index
            break
    kept = lines[:end]
    # A trailing block of “> ” lines is quoted history without a header line.
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    while kept and (not kept[-1].strip() or _MOBILE_SIGNATURES.match(kept[-1])):
        kept.pop()
    reply = "\n".join(kept).strip()
    return reply or text.strip()
