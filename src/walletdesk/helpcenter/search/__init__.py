"""Help-center search: folding, Chinese segmentation, synonyms, BM25F, typo tolerance,
snippets, and an optional semantic re-ranker. Pure functions and in-memory indexes; the
node-wide index over the database lives in `holder`."""
