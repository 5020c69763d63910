"""The semantic signals and their fusion, on hand-made vectors (no model needed): what the
whitening projection weighs, the classifier, and which articles may compete."""

from __future__ import annotations

import numpy as np
import pytest

import walletdesk.helpcenter.search.engine as engine_module
from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.engine import Fusion, SearchEngine
from walletdesk.helpcenter.search.semantic import Classifier, Projection, SemanticIndex

DIM = 8


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def two_articles() -> tuple[np.ndarray, np.ndarray]:
    """Article 0 and 1 differ a little along axis 1; each one's phrasings differ a lot
    along axis 2, and every text shares a big common component along axis 0 (as e5 vectors
    do)."""
    rows = [unit(5, 0.3, s) for s in (2, -2, 0)] + [unit(5, -0.3, s) for s in (1.5, -1.5, 0)]
    return np.stack(rows), np.array([3, 3], dtype=np.int64)


def test_projection_weighs_what_tells_articles_apart() -> None:
    matrix, counts = two_articles()
    # On article 0's side of axis 1, but along axis 2 nearest to one of article 1's texts.
    query = unit(5, 0.2, -1)
    assert int(np.argmax(matrix @ query)) >= 3
    raw = SemanticIndex(matrix, counts, classify=False).signals(query)
    assert int(np.argmax(raw.neighbours)) == 1
    assert int(np.argmax(raw.related)) == 1
    index = SemanticIndex.from_vectors(matrix, counts, classify=False)
    assert index.projection is not None
    projected = index.signals(query)
    assert int(np.argmax(projected.related)) == 0
    assert int(np.argmax(projected.neighbours)) == 1  # neighbours stay on the raw vectors
    # One pass over the raw matrix gives the same as projecting every text.
    whitened = (matrix - index.projection.mean) @ index.projection.matrix
    whitened /= np.linalg.norm(whitened, axis=1, keepdims=True)
    pulled = (query - index.projection.mean) @ index.projection.matrix
    direct = whitened @ (pulled / np.linalg.norm(pulled))
    expected = [np.log(np.exp(direct[i : i + 3] / 0.1).sum()) * 0.1 for i in (0, 3)]
    assert np.allclose(projected.related, expected, atol=1e-4)


def test_no_projection_without_two_texts_of_one_article() -> None:
    matrix = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    starts = np.arange(3, dtype=np.int64)
    assert Projection.fit(matrix, starts, np.ones(3, dtype=np.int64)) is None
    one = np.array([3], dtype=np.int64)
    assert Projection.fit(matrix, np.zeros(1, dtype=np.int64), one) is None
    # Titles only: the index still works on the raw vectors.
    index = SemanticIndex.from_vectors(matrix, np.ones(3, dtype=np.int64))
    assert index.projection is None
    assert int(np.argmax(index.signals(unit(0, 1)).related)) == 1


def test_classifier_learns_each_articles_phrasings() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((5, DIM)).astype(np.float32)
    vectors = np.repeat(centres, 4, axis=0) + 0.3 * rng.standard_normal((20, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    classifier = Classifier.train(vectors, np.repeat(np.arange(5), 4))
    predicted = [int(np.argmax(classifier.logits(v))) for v in vectors]
    assert predicted == list(np.repeat(np.arange(5), 4))


DOCS = [
    SearchDoc(1, 1, "card", "en", "Card delivery", "When the card arrives."),
    SearchDoc(2, 1, "rates", "en", "Exchange rates", "How we convert currencies."),
    SearchDoc(3, 1, "close", "en", "Closing an account", "How to delete a profile."),
]


def engine_with(vectors: list[np.ndarray]) -> SearchEngine:
    lexical = SearchEngine.build(DOCS)
    counts = np.ones(len(vectors), dtype=np.int64)
    semantic = SemanticIndex.from_vectors(np.stack(vectors), counts)
    return lexical.with_semantic({"en": semantic})


def test_meaning_alone_can_rank_an_article_the_words_missed() -> None:
    engine = engine_with([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    hits = engine.search("plastic in the mailbox", "en", query_vector=unit(1, 0.05, 0))
    assert [h.slug for h in hits][:1] == ["card"]
    assert abs(sum(h.score for h in hits) - 1) < 0.05  # fused scores are probabilities


def test_unrelated_query_finds_nothing() -> None:
    engine = engine_with([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    # No word matched and no article text within SEMANTIC_FLOOR of the query.
    assert engine.search("qwxz zzkv", "en", query_vector=unit(1, 1, 1, 1, 1, 1)) == []


def test_big_locales_only_rank_articles_the_words_or_meaning_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "rates" matches the words; "card" is close in meaning; "close" is neither.
    semantic = engine_with([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    # Gentle weights, so that no candidate falls under the relative-probability floor.
    engine = SearchEngine(semantic.lexical, semantic.semantic, Fusion(0, 0, 1, 1))
    query, vector = "exchange rates", unit(1, 0.1, 0.1)
    small = {h.slug for h in engine.search(query, "en", query_vector=vector)}
    assert small == {"card", "rates", "close"}
    monkeypatch.setattr(engine_module, "RANK_ALL_ARTICLES", 2)
    big = engine.with_semantic(engine.semantic)
    ranked = {i for i, _ in big.rank("en", {1: 3.0}, vector)}
    assert ranked == {0, 1}  # "close" (2) is not a candidate


def test_fusion_weights_decide_between_words_and_meaning() -> None:
    engine = engine_with([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    vector = unit(1, 0.6, 0)  # closer to "card"; the words say "rates"
    words_only = SearchEngine(engine.lexical, engine.semantic, Fusion(0, 0, 0, 1))
    meaning_only = SearchEngine(engine.lexical, engine.semantic, Fusion(0, 0, 1, 0))
    assert words_only.rank("en", {1: 3.0}, vector)[0][0] == 1
    assert meaning_only.rank("en", {1: 3.0}, vector)[0][0] == 0


def test_queries_of_only_pinyin_or_emoji_are_ranked_by_their_words() -> None:
    docs = [
        SearchDoc(1, 1, "withdraw-failed", "zh-CN", "提现失败怎么办", "提现失败时钱会退回余额。"),
        SearchDoc(2, 1, "contact", "zh-CN", "如何联系客服", "通过在线客服或电话联系我们。"),
    ]
    lexical = SearchEngine.build(docs)
    counts = np.ones(2, dtype=np.int64)
    semantic = SemanticIndex.from_vectors(np.stack([unit(1, 0), unit(0, 1)]), counts)
    engine = lexical.with_semantic({"zh-CN": semantic})
    assert not engine.wants_vector("tixian shibai", "zh-CN")
    assert not engine.wants_vector("🙂", "zh-CN")
    assert engine.wants_vector("提现失败", "zh-CN")
    assert engine.wants_vector("tixian 失败", "zh-CN")  # one real word: the model can read it
    assert not lexical.wants_vector("提现失败", "zh-CN")  # no semantic stage at all
    # A vector that points at "contact" is ignored for the pinyin query.
    hits = engine.search("tixian shibai", "zh-CN", query_vector=unit(0, 1))
    assert [h.slug for h in hits][:1] == ["withdraw-failed"]
    assert engine.search("提现", "zh-CN", query_vector=unit(0, 1))[0].slug == "contact"
