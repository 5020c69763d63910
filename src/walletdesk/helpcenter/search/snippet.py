"""Highlighted snippets: the passage of a text that best shows why it matched.

The text is escaped first and only then wrapped in <mark>, so the snippet is safe HTML
whatever the article or the query contained.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

from walletdesk.helpcenter.search.analysis import is_latin
from walletdesk.helpcenter.search.normalise import fold_with_offsets

WIDTH = 120
MAX_SCAN = 4000
# Windows tried for the best passage (one starting at each of the first matches).
MAX_WINDOWS = 40
_LEAD = 24
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=8192)
def _compiled(surfaces: frozenset[str]) -> re.Pattern[str] | None:
    latin, chinese = [], []
    for surface in sorted({s for s in surfaces if s.strip()}, key=len, reverse=True):
        if is_latin(surface):
            latin.append(r"[\s\-]*".join(re.escape(w) for w in surface.split()))
        else:
            chinese.append(re.escape(surface))
    parts = chinese
    if latin:
        # Stems match their inflections: "charg" highlights "charged".
        parts = [r"(?<![a-z0-9])(?:" + "|".join(latin) + r")[a-z0-9]*", *chinese]
    return re.compile("|".join(parts)) if parts else None


class Matcher:
    """Finds what to highlight: one compiled pattern per query term (cached across queries,
    since the same terms and synonym groups come back all the time)."""

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        compiled = (_compiled(frozenset(group)) for group in groups)
        self.patterns = [p for p in compiled if p is not None]

    def spans(self, folded: str) -> list[tuple[int, int, str]]:
        found = [
            (m.start(), m.end(), m.group(0))
            for pattern in self.patterns
            for m in pattern.finditer(folded)
            if m.end() > m.start()
        ]
        found.sort(key=lambda span: (span[0], span[0] - span[1]))
        kept: list[tuple[int, int, str]] = []
        for span in found:
            if not kept or span[0] >= kept[-1][1]:
                kept.append(span)
        return kept


def highlight(
    text: str,
    matcher: Matcher | Iterable[str],
    width: int = WIDTH,
    folded: str | None = None,
) -> tuple[str, int]:
    """(escaped HTML of the best window with <mark>s, number of distinct matches in it).

    `matcher` is a Matcher, or simply the folded strings to mark; `folded` is `fold(text)`
    when the caller has it already (the index keeps it for every article)."""
    if not isinstance(matcher, Matcher):
        matcher = Matcher([matcher])
    text = text[:MAX_SCAN]
    if len(_CJK.findall(text[:200])) > 60:
        width = width * 2 // 3  # a Chinese character carries about a word
    spans: list[tuple[int, int, str]] = []
    if matcher.patterns:
        origin: list[int] | None = None
        if folded is not None and len(folded) >= len(text):
            # Folded in place (same length, the index checked): offsets are the same.
            spans = matcher.spans(folded[: len(text)])
        else:
            folded_text, origin = fold_with_offsets(text)
            spans = matcher.spans(folded_text)
        if origin is not None:
            spans = [(origin[a], origin[b - 1] + 1, word) for a, b, word in spans]
    start = 0
    best = 0
    for i, (span_start, _, _) in enumerate(spans[:MAX_WINDOWS]):
        window_start = max(0, span_start - _LEAD)
        distinct = set()
        for _, span_end, word in spans[i:]:
            if span_end > window_start + width:
                break
            distinct.add(word)
        if len(distinct) > best:
            best, start = len(distinct), window_start
    end = min(len(text), start + width)
    if start > 0:
        # Do not cut an English word in half at the left edge.
        while start < end and text[start - 1].isalnum() and text[start].isascii():
            start += 1
    pieces = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end, _ in spans:
        if span_start < cursor or span_end > end:
            continue
        pieces.append(html.escape(text[cursor:span_start]))
        pieces.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    pieces.append(html.escape(text[cursor:end]))
    if end < len(text):
        pieces.append("…")
    return "".join(pieces).replace("\n", " "), best
