"""What every sentence encoder of the semantic stage shares: one model a process, calls
serialised by a lock (the models are not thread-safe and a query is small), and article
texts' vectors cached by text, so a rebuild after an edit encodes only what changed."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
BATCH = 32


class TextEncoder(ABC):
    dim: ClassVar[int]
    _instances: ClassVar[dict[type, TextEncoder]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, Matrix] = {}

    @classmethod
    def shared(cls) -> Self:
        with TextEncoder._guard:
            instance = TextEncoder._instances.get(cls)
            if instance is None:
                instance = TextEncoder._instances[cls] = cls()
            assert isinstance(instance, cls)
            return instance

    @abstractmethod
    def encode(self, texts: list[str]) -> Matrix:
        """Unit vectors, one row a text (called under the lock)."""

    def query(self, text: str) -> Matrix:
        with self._lock:
            vectors = self.encode([text[:1000]])
        return np.asarray(vectors[0], dtype=np.float32)

    def texts(self, texts: Sequence[str]) -> Matrix:
        """Vectors for article texts, computing only those not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        # Texts of similar length in one batch: less padding to compute.
        missing.sort(key=len)
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            with self._lock:
                vectors = self.encode(chunk)
            for text, vector in zip(chunk, vectors, strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
