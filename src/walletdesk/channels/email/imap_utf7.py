"""IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3).

IMAP commands are ASCII, so "客服" travels as "&W6JnDQ-". It is not Python's 'utf-7' codec:
'&' opens a shifted run (not '+'), its base64 uses ',' for '/', has no padding, and every
run closes with '-'; '&' itself is written "&-". No dependency of ours implements it.
"""

from __future__ import annotations

import base64
import binascii
import re

_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")


def _is_direct(char: str) -> bool:
    return " " <= char <= "~"


def encode_mailbox(name: str) -> str:
    """The name as IMAP commands must carry it."""
    out: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if _is_direct(char):
            close_run()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    close_run()
    return "".join(out)


def decode_mailbox(encoded: str) -> str:
    """A name as the server lists it, back to text; ValueError if it is not modified UTF-7."""
    out: list[str] = []
    position = 0
    while position < len(encoded):
        amp = encoded.find("&", position)
        if amp < 0:
            out.append(encoded[position:])
            break
        out.append(encoded[position:amp])
        match = _SHIFTED.match(encoded, amp)
        if match is None:
            raise ValueError(f"{encoded!r}: '&' at {amp} starts no run")
        data = match.group(1)
        if not data:
            out.append("&")
        else:
            padded = data.replace(",", "/") + "=" * (-len(data) % 4)
            try:
                out.append(base64.b64decode(padded, validate=True).decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError):
                raise ValueError(f"{encoded!r}: bad run {match.group(0)!r}") from None
        position = match.end()
    return "".join(out)
