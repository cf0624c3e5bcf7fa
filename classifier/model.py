"""The trained routing model and its artifact file.

Two calibrated scores over the same input, the unit embedding concatenated with standardised cheap features:

* `difficulty`: P(the cheap model fails where the strong one succeeds), a gated mixture of logistic experts
  (difficulty.py) Platt-scaled on held-out folds;
* `reasoning`: P(the request needs multi-step reasoning), a logistic regression Platt-scaled on out-of-fold
  decision values.

Serving is a handful of dot products and sigmoids in numpy: no scikit-learn on the hot path, and an artifact of
plain arrays. The artifact is an `.npz` of those arrays plus a JSON metadata string, loaded with `allow_pickle=False`
(loading it can run no code), a few kilobytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier import embed
from classifier.difficulty import Difficulty
from classifier.embed import EMBEDDING_DIM, MODEL_NAME
from classifier.features import FEATURE_VERSION, NAMES
from classifier.text import TEXT_VERSION

ARTIFACT_FORMAT = 2
SHIPPED_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "router-v1.npz"
RETRAIN_HINT = (
    "retrain it with `tiergate classifier train --data classifier/data/seed.jsonl "
    "../shared/routing-data/mmlu.jsonl ../shared/routing-data/gsm8k.jsonl --out PATH`"
)

FloatArray = npt.NDArray[np.float32]


class ArtifactError(Exception):
    """The classifier artifact is missing, unreadable or does not fit this code; the message says how to fix it."""


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


@dataclass(frozen=True)
class Head:
    """Logistic regression (weights, bias) then Platt scaling (a, b): p = sigmoid(a * (w.x + bias) + b)."""

    weights: npt.NDArray[np.float64]
    bias: float
    platt_a: float
    platt_b: float

    def decision(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        return np.asarray(x @ self.weights + self.bias, dtype=np.float64)

    def probability(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        return _sigmoid(self.platt_a * self.decision(x) + self.platt_b)


@dataclass(frozen=True)
class RouterModel:
    feature_mean: npt.NDArray[np.float64]
    feature_scale: npt.NDArray[np.float64]
    difficulty: Difficulty
    reasoning: Head
    metadata: dict[str, Any]

    def design(self, embeddings: FloatArray, feats: FloatArray) -> npt.NDArray[np.float64]:
        """The model input: embedding beside standardised features."""
        scaled = (feats.astype(np.float64) - self.feature_mean) / self.feature_scale
        return np.hstack([embeddings.astype(np.float64), scaled])

    def predict(
        self, embeddings: FloatArray, feats: FloatArray
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(difficulty, reasoning) probabilities, one per row."""
        x = self.design(embeddings, feats)
        return self.difficulty.probability(x), self.reasoning.probability(x)

    def to_bytes(self) -> bytes:
        arrays: dict[str, npt.NDArray[Any]] = {
            "feature_mean": self.feature_mean,
            "feature_scale": self.feature_scale,
            "metadata": np.array(json.dumps(self.metadata, sort_keys=True)),
        }
        head = self.reasoning
        arrays["reasoning_weights"] = head.weights
        arrays["reasoning_params"] = np.array([head.bias, head.platt_a, head.platt_b])
        d = self.difficulty
        for name in ("strong_w", "strong_b", "weak_w", "weak_b", "gate_w", "gate_b"):
            arrays[f"difficulty_{name}"] = getattr(d, name)
        arrays["difficulty_platt"] = np.array([d.platt_a, d.platt_b])
        arrays["difficulty_experts"] = np.array(json.dumps(list(d.experts)))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    def save(self, path: str | Path) -> str:
        """Write the artifact; returns its version (short content hash)."""
        data = self.to_bytes()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return hashlib.sha256(data).hexdigest()[:12]


def compatibility() -> dict[str, Any]:
    """What an artifact must match to be used by this code."""
    return {
        "format": ARTIFACT_FORMAT,
        "embedding_model": MODEL_NAME,
        "embedding_dim": EMBEDDING_DIM,
        "encoder_layers": embed.ENCODER_LAYERS,
        "text_version": TEXT_VERSION,
        "feature_version": FEATURE_VERSION,
        "features": list(NAMES),
    }


def load_model(path: str | Path | None = None) -> tuple[RouterModel, str]:
    """The model in `path` (None: the shipped artifact) and its version; ArtifactError if unusable."""
    target = Path(path) if path is not None else SHIPPED_ARTIFACT
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"classifier artifact not found at {target}; {RETRAIN_HINT}") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read classifier artifact {target}: {exc.strerror}") from exc
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            metadata = json.loads(str(npz["metadata"]))
            experts = json.loads(str(npz["difficulty_experts"])) if "difficulty_experts" in npz.files else []
            text = ("metadata", "difficulty_experts")
            arrays = {name: np.asarray(npz[name], dtype=np.float64) for name in npz.files if name not in text}
    except (ValueError, KeyError, OSError, EOFError) as exc:
        raise ArtifactError(
            f"{target} is not a tiergate classifier artifact ({exc.__class__.__name__}: {exc}); {RETRAIN_HINT}"
        ) from exc
    expected = compatibility()
    found = {key: metadata.get(key) for key in expected}
    if found != expected:
        diffs = ", ".join(
            f"{k}: artifact has {found[k]!r}, code needs {expected[k]!r}"
            for k in expected
            if found[k] != expected[k]
        )
        raise ArtifactError(
            f"classifier artifact {target} is incompatible with this version ({diffs}); {RETRAIN_HINT}"
        )
    width = EMBEDDING_DIM + len(NAMES)
    try:
        reasoning = Head(
            weights=arrays["reasoning_weights"],
            bias=float(arrays["reasoning_params"][0]),
            platt_a=float(arrays["reasoning_params"][1]),
            platt_b=float(arrays["reasoning_params"][2]),
        )
        difficulty = Difficulty(
            experts=tuple(str(e) for e in experts),
            strong_w=arrays["difficulty_strong_w"],
            strong_b=arrays["difficulty_strong_b"],
            weak_w=arrays["difficulty_weak_w"],
            weak_b=arrays["difficulty_weak_b"],
            gate_w=arrays["difficulty_gate_w"],
            gate_b=arrays["difficulty_gate_b"],
            platt_a=float(arrays["difficulty_platt"][0]),
            platt_b=float(arrays["difficulty_platt"][1]),
        )
        model = RouterModel(arrays["feature_mean"], arrays["feature_scale"], difficulty, reasoning, metadata)
    except (KeyError, IndexError) as exc:
        raise ArtifactError(f"classifier artifact {target} lacks {exc}; {RETRAIN_HINT}") from exc
    n = len(difficulty.experts)
    shapes_ok = (
        reasoning.weights.shape == (width,)
        and model.feature_mean.shape == (len(NAMES),)
        and n > 0
        and all(getattr(difficulty, a).shape == (n, width) for a in ("strong_w", "weak_w", "gate_w"))
        and all(getattr(difficulty, a).shape == (n,) for a in ("strong_b", "weak_b", "gate_b"))
    )
    if not shapes_ok:
        raise ArtifactError(f"classifier artifact {target} has arrays of the wrong shape; {RETRAIN_HINT}")
    return model, hashlib.sha256(data).hexdigest()[:12]
