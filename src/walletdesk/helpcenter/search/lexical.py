"""An in-memory BM25F index over one locale's articles.

Scores are precomputed per (term, article) at build time, so a query is a handful of
vectorised additions. English words the index does not know are corrected against its
vocabulary (Damerau/OSA edit distance 1, or 2 for long words), and pinyin typed for a
Chinese word ("tixian") is read as that word.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA

from walletdesk.helpcenter.search.analysis import Analyzer, is_latin
from walletdesk.helpcenter.search.documents import FIELDS, AnalysedDoc, SearchDoc

K1 = 1.2
# How much of a score survives when only part of the query matched: (share matched) ** COORD.
COORD = 0.6
FUZZY_WEIGHT = {1: 0.8, 2: 0.6}
PINYIN_WEIGHT = 0.9
MAX_QUERY_TERMS = 32

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class QueryTerm:
    term: str
    weight: float
    # Folded strings to highlight for this term (the words typed, or what a typo meant).
    surfaces: frozenset[str] = field(default_factory=frozenset)
    # Read from pinyin typed for the word, not from the word itself.
    from_pinyin: bool = False


@dataclass(frozen=True, slots=True)
class Scored:
    index: int
    score: float


class LexicalIndex:
    def __init__(self, analyzer: Analyzer, docs: list[tuple[SearchDoc, AnalysedDoc]]) -> None:
        self.analyzer = analyzer
        self.docs = [doc for doc, _ in docs]
        self.folded_bodies = [analysed.folded_body for _, analysed in docs]
        self.size = len(docs)
        self.postings: dict[str, tuple[IntArray, FloatArray]] = {}
        self._build([analysed for _, analysed in docs])

    def _build(self, analysed: list[AnalysedDoc]) -> None:
        averages = {
            name: max(1.0, sum(a.lengths[name] for a in analysed) / max(1, len(analysed)))
            for name in FIELDS
        }
        weighted: dict[str, dict[int, float]] = defaultdict(dict)
        pinyin_votes: dict[str, Counter[str]] = defaultdict(Counter)
        for index, doc in enumerate(analysed):
            tf: dict[str, float] = defaultdict(float)
            for name, (weight, b) in FIELDS.items():
                norm = 1 - b + b * doc.lengths[name] / averages[name]
                for term, count in doc.fields[name].items():
                    tf[term] += weight * count / norm
            for term, value in tf.items():
                weighted[term][index] = value
            for pinyin, term in doc.pinyin:
                pinyin_votes[pinyin][term] += 1
        total = self.size
        for term, per_doc in weighted.items():
            df = len(per_doc)
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            indices = np.fromiter(per_doc.keys(), dtype=np.int32, count=df)
            tfs = np.fromiter(per_doc.values(), dtype=np.float32, count=df)
            self.postings[term] = (indices, (idf * tfs * (K1 + 1) / (K1 + tfs)).astype(np.float32))
        self.pinyin = {p: votes.most_common(1)[0][0] for p, votes in pinyin_votes.items()}
        # English spellings the fuzzy matcher may land on, with the term each one indexes as.
        self.spellings: dict[str, str] = {t: t for t in self.postings if is_latin(t) and len(t) > 2}
        for spelling, term in self.analyzer.canonical.items():
            if is_latin(spelling) and term in self.postings and len(spelling) > 2:
                self.spellings.setdefault(spelling, term)
        self._spelling_list = list(self.spellings)

    # --- queries ------------------------------------------------------------------------

    def query_terms(self, text: str) -> list[QueryTerm]:
        """The terms to look up for a query, with synonyms, pinyin and typos resolved."""
        analyzer = self.analyzer
        wanted: dict[str, QueryTerm] = {}

        def want(term: str, weight: float, *surfaces: str, pinyin: bool = False) -> None:
            known = wanted.get(term)
            merged = frozenset(surfaces) | (known.surfaces if known else frozenset())
            pinyin = pinyin and (known is None or known.from_pinyin)
            best = max(weight, known.weight if known else 0.0)
            wanted[term] = QueryTerm(term, best, merged, pinyin)

        consumed: set[str] = set()
        for run in analyzer.latin_runs(text):
            i = 0
            while i < len(run):
                for length in range(min(4, len(run) - i), 1, -1):
                    joined = "".join(run[i : i + length])
                    if joined in self.pinyin and joined not in self.postings:
                        want(self.pinyin[joined], PINYIN_WEIGHT, self.pinyin[joined], pinyin=True)
                        consumed.update(run[i : i + length])
                        i += length - 1
                        break
                i += 1
        for term, word in analyzer.terms_with_words(text):
            if len(wanted) >= MAX_QUERY_TERMS:
                break
            if term in self.postings:
                want(term, 1.0, word)
            elif not is_latin(term) or word in consumed:
                continue
            elif word in self.pinyin:
                want(self.pinyin[word], PINYIN_WEIGHT, self.pinyin[word], pinyin=True)
            else:
                self._fuzzy(term, want)
        return list(wanted.values())

    def _fuzzy(self, term: str, want: Callable[..., None]) -> None:
        if len(term) < 4 or term.isdigit() or not self._spelling_list:
            return
        limit = 1 if len(term) < 7 else 2
        matches = process.extract(
            term, self._spelling_list, scorer=OSA.distance, score_cutoff=limit, limit=5
        )
        if not matches:
            return
        best = min(matches, key=lambda m: (m[1], -len(self.postings[self.spellings[m[0]]][0])))
        spelling, distance = str(best[0]), int(best[1])
        want(self.spellings[spelling], FUZZY_WEIGHT[max(1, distance)], spelling)

    def score(self, terms: list[QueryTerm], limit: int) -> list[Scored]:
        if not terms or not self.size:
            return []
        scores = np.zeros(self.size, dtype=np.float32)
        matched = np.zeros(self.size, dtype=np.float32)
        total = 0.0
        for qt in terms:
            indices, contributions = self.postings[qt.term]
            scores[indices] += qt.weight * contributions
            matched[indices] += qt.weight
            total += qt.weight
        scores *= (matched / total) ** COORD
        hits = np.flatnonzero(scores)
        if hits.size == 0:
            return []
        top = hits
        if hits.size > limit:
            top = hits[np.argpartition(-scores[hits], limit - 1)[:limit]]
        ordered = top[np.argsort(-scores[top], kind="stable")]
        return [Scored(int(i), float(scores[i])) for i in ordered]
