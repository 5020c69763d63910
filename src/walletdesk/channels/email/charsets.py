"""Turning the bytes and headers of real-world mail into text, whatever they claim to be.

Chinese clients label mail GB2312 but write characters only GBK or GB18030 has (a
rare surname, a full-width symbol); decoding every GB label as GB18030, their common
superset, reads all of them. Headers arrive RFC 2047 encoded, RFC 2231 encoded, or as
raw 8-bit bytes in whatever charset the client liked; none of them may raise.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

# Labels that name a subset of a wider codec that Python has: decode with the wider one.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "x-gbk": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "unicode-1-1-utf-7": "utf-7",
}

# Tried in this order when a part declares no charset or one Python does not know.
_FALLBACKS = ("utf-8", "gb18030")

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]")


def codec_for(label: str | None) -> str | None:
    """The Python codec to decode a MIME charset label with, or None if there is none."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _SUPERSETS.get(name, name)
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # A label naming a transfer codec (base64, zlib…) is not a charset.
    if not getattr(codec, "_is_text_encoding", True):
        return None
    return _SUPERSETS.get(codec.name, codec.name)


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Text of `data`: its declared charset if that reads it cleanly, else the usual suspects."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    for fallback in _FALLBACKS:
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    if codec is not None:
        try:
            return data.decode(codec, errors="replace")
        except LookupError:
            pass
    return data.decode("utf-8", errors="replace")


def raw_header_text(value: str) -> str:
    """A header as the parser kept it (8-bit bytes surrogate-escaped) turned into text."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return decode_bytes(value.encode("utf-8", errors="surrogateescape"))
    return value


def decode_header_value(value: str | None) -> str:
    """One header as a person reads it: unfolded, encoded-words decoded, never raising."""
    if not value:
        return ""
    text = _FOLD.sub(" ", raw_header_text(str(value)))
    if "=?" in text:
        text = _decode_words(text)
    return _strip_controls(text)


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words, joining neighbours first.

    Encoders split a long subject into several words, some of them in the middle of a
    multibyte character: adjacent words in one charset are decoded as one byte string.
    """
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            pieces.append(decode_bytes(b"".join(pending), pending_charset))
            pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if between and not (pending and between.isspace()):
            flush()
            pieces.append(between)
        charset = match.group(1).split("*", 1)[0]
        data = _word_bytes(match.group(2), match.group(3))
        if pending and charset.lower() != (pending_charset or "").lower():
            flush()
        pending_charset = charset
        pending.append(data)
        position = match.end()
    flush()
    pieces.append(text[position:])
    return "".join(pieces)


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", errors="replace")
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", errors="replace"))


def decode_param(value: str | tuple[str | None, str | None, str] | None) -> str:
    """A MIME parameter (a filename) in any of its spellings: RFC 2231, RFC 2047 or raw 8-bit."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        charset, _language, text = value
        raw = text.encode("raw-unicode-escape", errors="replace")
        return _strip_controls(decode_bytes(raw, charset or "utf-8"))
    return decode_header_value(value)


def _strip_controls(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == " " else " " for ch in text).strip()
