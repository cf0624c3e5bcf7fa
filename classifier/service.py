"""The classifier as the gateway uses it: load once per process, score conversations, never block the loop.

A score is: the conversation's bounded text (text.py) and its last user turn's cheap features (features.py) ->
an embedding, micro-batched with concurrent requests and computed in a worker thread (batching.py) -> two
calibrated linear heads (model.py). Results are kept in an LRU keyed by a hash of exactly the text the score
depends on, so a repeated prompt costs a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.batching import MicroBatcher
from classifier.embed import Embedder, EmbedderUnavailable, FloatArray, load_embedder
from classifier.features import features
from classifier.model import ArtifactError, RouterModel, load_model
from classifier.text import conversation_text, last_user_text


@dataclass(frozen=True)
class Scores:
    difficulty: float  # P(cheap model fails where strong succeeds), calibrated
    reasoning: float  # P(request needs multi-step reasoning: maths, logic, code, planning), calibrated
    decision_ms: float  # wall time of this decision
    cached: bool  # served from the LRU


@dataclass(frozen=True)
class _Job:
    text: str
    feature_text: str | None  # None: embedding only


class RoutingClassifier:
    """Scores chat requests for routing. Create with `load`; share one per process; `aclose` on shutdown."""

    version: str

    def __init__(
        self,
        model: RouterModel,
        version: str,
        embedder: Embedder,
        *,
        cache_size: int = 4096,
        max_batch: int = 32,
        batch_window_ms: float = 0.0,
    ) -> None:
        self.model = model
        self.version = version
        self.backend = embedder.backend
        self._embedder = embedder
        self._cache: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._cache_size = cache_size
        # One worker thread: the embedder serialises calls anyway, and the machine's cores belong to the model.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiergate-classifier")
        self._batcher: MicroBatcher[_Job, tuple[FloatArray, FloatArray | None]] = MicroBatcher(
            self._run_batch, self._executor, max_batch=max_batch, window_s=batch_window_ms / 1000.0
        )

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        backend: str = "torch",
        cache_size: int = 4096,
        max_batch: int = 32,
        batch_window_ms: float = 0.0,
    ) -> RoutingClassifier:
        """Load the artifact (None: the one shipped in the package) and the embedder. Blocking, ~1-5 s: call at
        startup. Raises ArtifactError when the artifact is missing or does not fit this code, or the embedding
        model is not installed."""
        model, version = load_model(path)
        try:
            embedder = load_embedder(backend)
        except EmbedderUnavailable as exc:
            raise ArtifactError(str(exc)) from exc
        # The first calls of a fresh model are slow (allocation, kernel selection); pay that here, not on a request.
        embedder.encode(["warm up"])
        embedder.encode(["warm up " * 40, "a"])
        return cls(
            model,
            version,
            embedder,
            cache_size=cache_size,
            max_batch=max_batch,
            batch_window_ms=batch_window_ms,
        )

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The artifact's metadata: data hashes, versions, metrics, recommended thresholds."""
        return self.model.metadata

    @property
    def batch_stats(self) -> tuple[int, int]:
        """(batches encoded, items encoded) since load."""
        return self._batcher.batches, self._batcher.items

    def _run_batch(self, jobs: Sequence[_Job]) -> list[tuple[FloatArray, FloatArray | None]]:
        vectors = self._embedder.encode([job.text for job in jobs])
        return [
            (vector, None if job.feature_text is None else features(job.feature_text))
            for vector, job in zip(vectors, jobs, strict=True)
        ]

    async def score(self, messages: list[dict[str, Any]]) -> Scores:
        """Difficulty and reasoning probabilities for an OpenAI-format conversation."""
        started = time.perf_counter()
        text = conversation_text(messages)
        user = last_user_text(messages)
        key = hashlib.sha256(f"{text}\x00{user}".encode()).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return Scores(hit[0], hit[1], (time.perf_counter() - started) * 1000.0, True)
        vector, feats = await self._batcher.submit(_Job(text, user))
        assert feats is not None
        difficulty, reasoning = self.model.predict(vector[None, :], feats[None, :])
        result = (float(difficulty[0]), float(reasoning[0]))
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return Scores(result[0], result[1], (time.perf_counter() - started) * 1000.0, False)

    async def embed(self, text: str) -> np.ndarray:
        """The unit-length embedding of `text` (bounded like a user turn), for similarity lookups."""
        vector, _ = await self._batcher.submit(
            _Job(conversation_text([{"role": "user", "content": text}]), None)
        )
        return vector

    async def aclose(self) -> None:
        await self._batcher.aclose()
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
