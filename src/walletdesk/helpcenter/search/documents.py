"""What the search index holds about an article, and its analysed form (cached per revision)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from walletdesk.helpcenter.search.analysis import Analyzer
from walletdesk.helpcenter.search.normalise import fold

# BM25F field weights and length normalisation: a title or a customer's own phrasing that
# matches says more than a word somewhere in the body.
FIELDS: dict[str, tuple[float, float]] = {
    "title": (3.0, 0.4),
    "keywords": (2.0, 0.2),
    "questions": (2.0, 0.5),
    "category": (0.5, 0.0),
    "body": (1.0, 0.75),
}


@dataclass(frozen=True, slots=True)
class SearchDoc:
    article_id: int
    revision: int
    slug: str
    locale: str
    title: str
    body_text: str
    category: str = ""
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnalysedDoc:
    fields: dict[str, Counter[str]]
    lengths: dict[str, int]
    pinyin: tuple[tuple[str, str], ...]
    # The folded body for snippets, when folding kept every character in place.
    folded_body: str | None = None


def analyse(analyzer: Analyzer, doc: SearchDoc) -> AnalysedDoc:
    texts = {
        "title": doc.title,
        "keywords": " \n".join(doc.keywords),
        "questions": " \n".join(doc.questions),
        "category": doc.category,
        "body": doc.body_text,
    }
    fields = {name: Counter(analyzer.terms(text)) for name, text in texts.items()}
    lengths = {name: sum(counter.values()) for name, counter in fields.items()}
    pinyin: list[tuple[str, str]] = []
    if doc.locale.startswith("zh"):
        for text in (doc.title, texts["keywords"], texts["questions"]):
            pinyin.extend(analyzer.pinyin_of_words(text))
    folded = fold(doc.body_text)
    in_place = folded if len(folded) == len(doc.body_text) else None
    return AnalysedDoc(fields, lengths, tuple(dict.fromkeys(pinyin)), in_place)
