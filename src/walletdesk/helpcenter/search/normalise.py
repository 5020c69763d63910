"""Folding text before it is searched: one form for what readers consider the same text.

NFKC turns full-width letters and digits into ASCII (Ｔｏｐ　ｕｐ → Top up); case folding makes
"Top" and "top" one; OpenCC (`opencc` package, config `tw2sp`: Traditional Chinese with Taiwan
phrases → Simplified, mainland phrases) makes 帳號被凍結 and 账号被冻结 one. Every character
of the folded text remembers where it came from, so snippets can highlight the original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_CONVERTER = opencc.OpenCC("tw2sp")
# Characters that carry no meaning for search but split or glue words invisibly.
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad]")
# Quote marks that customers type in several shapes; "didn't" must stay one word.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char).casefold()
    return folded.translate(_APOSTROPHES)


def to_simplified(text: str) -> str:
    return str(_CONVERTER.convert(text))


def fold(text: str) -> str:
    """The searchable form of a text (queries and indexed fields alike)."""
    text = _INVISIBLE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    return to_simplified(text)


def fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """Fold `text` and give, for each folded character, the index of its source character
    (None when folding kept every character in place, the common case)."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded, None
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(_INVISIBLE.sub(" ", text)):
        folded = _fold_char(char)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    joined = "".join(pieces)
    simplified = to_simplified(joined)
    if len(simplified) != len(joined):
        # A phrase conversion changed the length; convert character by character instead,
        # which keeps the one-to-one map (and loses only the rare phrase-level variant).
        simplified = "".join(
            to_simplified(char) if len(to_simplified(char)) == 1 else char for char in joined
        )
    return simplified, origin
