"""Email HTML: sanitised with nh3 before anything stores or shows it, and read as plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# Where mail clients start the quoted history in HTML: Gmail, Outlook (web and desktop),
# Apple Mail, Thunderbird, QQ Mail, NetEase (163/126), Foxmail, Yahoo.
_QUOTE_STARTS = re.compile(
    r"""<div[^>]+class=["']?(?:gmail_quote|gmail_attr|moz-cite-prefix|yahoo_quoted)"""
    r"""|<div[^>]+id=["']?(?:divRplyFwdMsg|appendonsend|isReplyContent|isForwardContent"""
    r"""|mail-editor-reference-message-container|origbody|reply-content|ntes-pcmail-quote)"""
    r"""|<hr[^>]+id=["']?stopSpelling"""
    r"""|<blockquote[^>]+type=["']?cite"""
    r"""|<div[^>]*>\s*(?:<[^>]+>\s*)*-{5,}\s*(?:&nbsp;|\s)*(?:原始邮件|Original Message)""",
    re.IGNORECASE,
)

# Elements whose content is dropped with them, not just unwrapped.
_DROP_WITH_CONTENT = {"script", "style", "title", "head", "object", "embed", "iframe", "template"}
_ALLOWED_SCHEMES = {"http", "https", "mailto", "cid", "tel"}

MAX_HTML_CHARS = 2_000_000


def sanitize(html: str) -> str:
    """Safe HTML: no script, no event handlers, no javascript: links, no CSS; cid: images kept."""
    return nh3.clean(
        html[:MAX_HTML_CHARS],
        clean_content_tags=_DROP_WITH_CONTENT,
        url_schemes=_ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def without_quoted_history(html: str) -> str:
    """The part of an HTML reply above its quoted history (unchanged if none is marked)."""
    match = _QUOTE_STARTS.search(html)
    if match is None or not html[: match.start()].strip():
        return html
    return html[: match.start()]


_BLOCKS = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "hr",
    "ul",
    "ol",
    "section",
    "article",
    "header",
    "footer",
}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_WITH_CONTENT:
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_WITH_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body, for search, previews and when there is no text part."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html[:MAX_HTML_CHARS])
        extractor.close()
    except Exception:  # HTMLParser copes with nearly anything; this is the last resort
        return re.sub(r"<[^>]*>", " ", html[:MAX_HTML_CHARS])
    text = "".join(extractor.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
