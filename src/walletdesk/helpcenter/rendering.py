"""Article bodies: Markdown (markdown-it-py, CommonMark) rendered to HTML that nh3 sanitises,
and the plain text that search indexes."""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
_MARKDOWN.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "kbd",
    "del", "s",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
_BLOCK_END = re.compile(r"</(p|li|h[1-6]|tr|blockquote|pre|td|th)>|<br\s*/?>", re.IGNORECASE)


def render_markdown(source: str) -> str:
    """Safe HTML for an article body: raw HTML in the source is allowed, then sanitised."""
    return str(
        nh3.clean(
            _MARKDOWN.render(source),
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
        )
    )


def plain_text(safe_html: str) -> str:
    """The readable text of rendered HTML, one block a line."""
    text = nh3.clean(_BLOCK_END.sub(lambda m: m.group(0) + "\n", safe_html), tags=set())
    lines = (" ".join(line.split()) for line in html.unescape(str(text)).splitlines())
    return "\n".join(line for line in lines if line)


DESCRIPTION_CHARS = 160


def excerpt(safe_html: str, limit: int = DESCRIPTION_CHARS) -> str:
    """The start of rendered HTML's text on one line, at most `limit` characters (a page's
    meta description; the template escapes it). A cut ends at a word where there are spaces
    to cut at (not in Chinese) and is marked with "…"."""
    # The first blocks are enough, so a long article costs no more than a short one: cut
    # after a block's end well past `limit` (all of it if that leaves too little text).
    end = _BLOCK_END.search(safe_html, limit * 25)
    text = " ".join(plain_text(safe_html[: end.end()] if end else safe_html).split())
    if end and len(text) <= limit:
        text = " ".join(plain_text(safe_html).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and (space := cut.rfind(" ")) > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:!?，。；：、！？") + "…"
