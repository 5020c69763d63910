"""One immutable search snapshot over every locale: lexical ranking, an optional semantic
re-ranking of its candidates, and highlighted snippets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from walletdesk.helpcenter.search.analysis import Analyzer, get_analyzer
from walletdesk.helpcenter.search.documents import AnalysedDoc, SearchDoc, analyse
from walletdesk.helpcenter.search.lexical import LexicalIndex
from walletdesk.helpcenter.search.semantic import SemanticIndex
from walletdesk.helpcenter.search.snippet import Matcher, highlight

LEXICAL_CANDIDATES = 50
FUSED_CANDIDATES = 64
# Fusion weights (logit units), chosen on Banking77 and the wallet set: see docs/helpcenter.md.
NEIGHBOUR_WEIGHT = 20.0
LEXICAL_WEIGHT = 2.0
# e5 query–query similarities live in a narrow band; below this a text is unrelated.
SEMANTIC_FLOOR = 0.80
MAX_QUERY_CHARS = 500
MIN_RELATIVE_SCORE = 0.15
# Fused scores are probabilities, peaked on the best article: a lower bar keeps runners-up.
MIN_RELATIVE_PROBABILITY = 0.02


@dataclass(frozen=True, slots=True)
class Hit:
    article_id: int
    slug: str
    title: str
    locale: str
    score: float
    snippet: str


class SearchEngine:
    def __init__(
        self,
        lexical: dict[str, LexicalIndex],
        semantic: dict[str, SemanticIndex] | None = None,
    ) -> None:
        self.lexical = lexical
        self.semantic = semantic or {}

    @classmethod
    def build(
        cls, docs: Sequence[SearchDoc], cache: dict[SearchDoc, AnalysedDoc] | None = None
    ) -> SearchEngine:
        """Index `docs`; `cache` (analysed documents of an earlier build) saves re-analysing
        articles that did not change, and is left holding exactly the current ones."""
        analyzer = get_analyzer()
        previous = dict(cache) if cache is not None else {}
        by_locale: dict[str, list[tuple[SearchDoc, AnalysedDoc]]] = {}
        current: dict[SearchDoc, AnalysedDoc] = {}
        for doc in docs:
            done = previous.get(doc) or analyse(analyzer, doc)
            current[doc] = done
            by_locale.setdefault(doc.locale, []).append((doc, done))
        if cache is not None:
            cache.clear()
            cache.update(current)
        return cls({loc: LexicalIndex(analyzer, items) for loc, items in by_locale.items()})

    @property
    def analyzer(self) -> Analyzer:
        return get_analyzer()

    def with_semantic(self, semantic: dict[str, SemanticIndex]) -> SearchEngine:
        return SearchEngine(self.lexical, semantic)

    def has_semantic(self, locale: str) -> bool:
        return locale in self.semantic

    def search(
        self,
        query: str,
        locale: str,
        limit: int = 10,
        query_vector: npt.NDArray[np.float32] | None = None,
    ) -> list[Hit]:
        index = self.lexical.get(locale)
        query = query[:MAX_QUERY_CHARS]
        if index is None or not query.strip():
            return []
        terms = index.query_terms(query)
        lexical = {s.index: s.score for s in index.score(terms, max(limit, LEXICAL_CANDIDATES))}
        semantic = self.semantic.get(locale)
        relative = MIN_RELATIVE_SCORE
        if query_vector is not None and semantic is not None and self.analyzer.terms(query):
            ranked = self._fuse(lexical, semantic, query_vector)
            relative = MIN_RELATIVE_PROBABILITY
        else:
            ranked = sorted(lexical.items(), key=lambda item: -item[1])
        if ranked:
            # Weak matches far below the best one are noise to a reader (and to a chat widget).
            floor = ranked[0][1] * relative
            ranked = [(i, score) for i, score in ranked if score >= floor]
        matcher = Matcher(t.surfaces | index.analyzer.surfaces(t.term) for t in terms)
        return [self._hit(index, i, score, matcher) for i, score in ranked[:limit]]

    @staticmethod
    def _fuse(
        lexical: dict[int, float], semantic: SemanticIndex, query_vector: npt.NDArray[np.float32]
    ) -> list[tuple[int, float]]:
        """One score from three signals, as logits: the classifier's, the nearest
        neighbours' similarity and the lexical score relative to the best one. Articles
        join when words matched or when their meaning is close; scores are probabilities."""
        neighbours = semantic.neighbours(query_vector)
        words = np.zeros(semantic.size, dtype=np.float32)
        if lexical:
            top = max(lexical.values()) or 1.0
            for i, score in lexical.items():
                words[i] = score / top
        logits = NEIGHBOUR_WEIGHT * neighbours + LEXICAL_WEIGHT * words
        if semantic.classifier is not None:
            logits += semantic.classifier.logits(query_vector)
        candidates = np.flatnonzero((words > 0) | (neighbours >= SEMANTIC_FLOOR))
        if candidates.size == 0:
            return []
        if candidates.size > FUSED_CANDIDATES:
            # Only the head matters; the tail's share of the probability is negligible.
            head = np.argpartition(-logits[candidates], FUSED_CANDIDATES - 1)
            candidates = candidates[head[:FUSED_CANDIDATES]]
        chosen = logits[candidates]
        probabilities = np.exp(chosen - chosen.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities, kind="stable")
        return [(int(candidates[k]), float(probabilities[k])) for k in order]

    @staticmethod
    def _hit(index: LexicalIndex, i: int, score: float, matcher: Matcher) -> Hit:
        doc = index.docs[i]
        snippet, found = highlight(doc.body_text, matcher, folded=index.folded_bodies[i])
        if not found:
            for question in doc.questions:
                candidate, count = highlight(question, matcher)
                if count > found:
                    snippet, found = candidate, count
                    break
        return Hit(doc.article_id, doc.slug, doc.title, doc.locale, round(score, 4), snippet)
