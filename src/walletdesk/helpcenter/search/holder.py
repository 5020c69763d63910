"""The node's search index over the database, kept fresh across nodes.

Each node (process) holds an in-memory index built from the published articles. A row in
the database, `helpcenter_index_version`, is bumped in the same transaction as every change
to what search sees; a node compares it with the version it built at most once a second
(and at once after a change committed in this process), and rebuilds in a worker thread
while queries keep using the previous snapshot. This works the same on SQLite and on
PostgreSQL with any number of nodes, and needs nothing besides the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from contextlib import suppress

from walletdesk.db import Database
from walletdesk.helpcenter.search.documents import AnalysedDoc, SearchDoc
from walletdesk.helpcenter.search.engine import MAX_QUERY_CHARS, Hit, SearchEngine
from walletdesk.helpcenter.search.english import MiniLM, english_model_wanted, serves_locale
from walletdesk.helpcenter.search.semantic import Embedder, SemanticIndex, semantic_wanted
from walletdesk.helpcenter.search.vectors import Matrix, TextEncoder

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
_generation = 0


def mark_changed() -> None:
    """Called after a commit that changed articles: re-check the version on the next query."""
    global _generation
    _generation += 1


class SearchService:
    def __init__(self, db: Database, *, semantic: bool | None = None) -> None:
        self.db = db
        self.semantic_enabled = semantic_wanted() if semantic is None else semantic
        self.english_enabled = self.semantic_enabled and english_model_wanted()
        self._engine: SearchEngine | None = None
        self._version = -1
        self._generation = -1
        self._checked = 0.0
        self._lock = asyncio.Lock()
        self._cache: dict[SearchDoc, AnalysedDoc] = {}
        self._semantic_task: asyncio.Task[None] | None = None

    # --- freshness ----------------------------------------------------------------------

    def _due(self) -> bool:
        return self._generation != _generation or time.monotonic() - self._checked > CHECK_SECONDS

    async def engine(self) -> SearchEngine:
        if self._engine is not None and (not self._due() or self._lock.locked()):
            return self._engine
        async with self._lock:
            if self._engine is None or self._due():
                await self._refresh()
        assert self._engine is not None
        return self._engine

    async def _refresh(self) -> None:
        from walletdesk.helpcenter.queries import index_version, load_search_docs

        generation = _generation
        async with self.db.transaction() as session:
            version = await index_version(session)
            docs = None
            if version != self._version or self._engine is None:
                docs = await load_search_docs(session)
        if docs is not None:
            engine = await asyncio.to_thread(SearchEngine.build, docs, self._cache)
            self._engine, self._version = engine, version
            log.info("help-center index v%s built: %s articles", version, len(docs))
            if self.semantic_enabled:
                self._start_semantic(engine, version)
        self._generation, self._checked = generation, time.monotonic()

    # --- semantic stage -----------------------------------------------------------------

    def _start_semantic(self, engine: SearchEngine, version: int) -> None:
        if self._semantic_task is not None and not self._semantic_task.done():
            self._semantic_task.cancel()
        self._semantic_task = asyncio.create_task(
            self._build_semantic(engine, version), name="helpcenter-semantic"
        )

    async def _build_semantic(self, engine: SearchEngine, version: int) -> None:
        """e5 for every locale first (search uses it as soon as it is there), then the
        English encoder for the locales it reads."""

        def build(encoder: TextEncoder, locales: list[str]) -> dict[str, SemanticIndex]:
            return {loc: SemanticIndex.build(encoder, engine.lexical[loc].docs) for loc in locales}

        locales = list(engine.lexical)
        try:
            semantic = await asyncio.to_thread(build, Embedder.shared(), locales)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the semantic stage could not be built; search stays lexical")
            return
        if self._version != version or self._engine is not engine:
            return
        self._engine = with_e5 = engine.with_semantic(semantic)
        english_locales = [loc for loc in locales if serves_locale(loc)]
        if not self.english_enabled or not english_locales:
            return
        try:
            english = await asyncio.to_thread(build, MiniLM.shared(), english_locales)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the English encoder's stage could not be built; e5 alone ranks")
            return
        if self._version == version and self._engine is with_e5:
            self._engine = engine.with_semantic(semantic, english)

    @property
    def semantic_state(self) -> str:
        if not self.semantic_enabled:
            return "off"
        engine = self._engine
        return "ready" if engine is not None and engine.semantic else "building"

    @property
    def english_state(self) -> str:
        """The English encoder's stage: "ready" once every English locale has it."""
        if not self.english_enabled:
            return "off"
        engine = self._engine
        if engine is None or not engine.semantic:
            return "building"
        wanted = [loc for loc in engine.lexical if serves_locale(loc)]
        return "ready" if all(loc in engine.english for loc in wanted) else "building"

    async def wait_until_ready(self) -> SearchEngine:
        """The current engine, with its semantic stage when that is enabled (bench, tests)."""
        await self.engine()
        if self._semantic_task is not None:
            with suppress(asyncio.CancelledError):
                await self._semantic_task
        return await self.engine()

    @property
    def version(self) -> int:
        return self._version

    async def close(self) -> None:
        if self._semantic_task is not None and not self._semantic_task.done():
            self._semantic_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._semantic_task

    # --- queries ------------------------------------------------------------------------

    async def search(self, query: str, locale: str, limit: int = 10) -> list[Hit]:
        engine = await self.engine()
        vector = english = None
        if engine.wants_vector(query, locale):
            vector, english = await asyncio.to_thread(
                query_vectors, query[:MAX_QUERY_CHARS], engine.has_english(locale)
            )
        return engine.search(query, locale, limit, query_vector=vector, english_vector=english)


def query_vectors(query: str, english: bool) -> tuple[Matrix, Matrix | None]:
    """The query's e5 vector, and the English encoder's when the locale has that stage."""
    return Embedder.shared().query(query), MiniLM.shared().query(query) if english else None


_services: weakref.WeakKeyDictionary[Database, SearchService] = weakref.WeakKeyDictionary()


def search_service(db: Database) -> SearchService:
    """The search index of this node for this database (one per process and database)."""
    service = _services.get(db)
    if service is None:
        service = _services[db] = SearchService(db)
    return service
