"""An on-disk cache of training embeddings, so re-training and evaluation skip the slow part.

Keyed by the embedded text and everything that changes its vector (model weights, backend precision, text
rules, token cap). Lives in the user cache directory, never in the repository.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

import numpy as np

from classifier import embed
from classifier.text import TEXT_VERSION

CHUNK = 256


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def embed_cached(
    texts: list[str], backend: str = "onnx", *, progress: bool = False, use_cache: bool = True
) -> embed.FloatArray:
    """Embeddings of `texts` (rows in order), computing only those not cached yet."""
    precision = "int8" if backend == "onnx-int8" else "fp32"  # torch and onnx fp32 agree to 1e-6
    name = f"{embed.encoder_id()}-{precision}-{TEXT_VERSION}-{embed.MAX_TOKENS}.npz"
    path = embed.cache_dir() / "embeddings" / name
    known: dict[str, np.ndarray] = {}
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        embedder = embed.load_embedder(backend)
        report: Callable[[int], None] = (
            (lambda done: print(f"embedded {done}/{len(missing)}", file=sys.stderr))
            if progress
            else (lambda _: None)
        )
        # Shortest first: batches of similar length waste less on padding.
        missing.sort(key=lambda item: len(item[1]))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            vectors = embedder.encode([t for _, t in chunk])
            known.update(zip([k for k, _ in chunk], vectors, strict=True))
            report(start + len(chunk))
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            tmp.replace(path)
    if not texts:
        return np.zeros((0, embed.EMBEDDING_DIM), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)
