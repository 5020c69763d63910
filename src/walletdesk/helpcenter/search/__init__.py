"""Help-center search: folding, Chinese segmentation, synonyms, BM25F, typo tolerance,
snippets, and an optional semantic re-ranker. Pure functions and in-memory indexes; the
node-wide index over the database lives in `holder`."""

import os

# numpy's OpenBLAS would run each query's matrix-vector products on a thread per core; on
# a busy 2-core machine those threads fight the web workers and the embedding model, which
# doubled the semantic stage's p99 (bench/search_latency.py, docs/helpcenter.md). One
# thread unless the operator sets it; this only counts before numpy is first imported,
# and in WalletDesk only this package imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
