"""Training: data files -> embeddings and features -> two calibrated heads -> artifact with metadata.

Reproducible: the data hashes, seeds and library versions are recorded in the artifact, and the same command on
the same files gives the same weights (lbfgs is deterministic; folds are seeded). The shipped artifact was made by

    tiergate classifier train --data classifier/data/seed.jsonl ../shared/routing-data/mmlu.jsonl \\
        ../shared/routing-data/gsm8k.jsonl --out classifier/artifacts/router-v1.npz
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier import data as rd
from classifier.embedcache import embed_cached
from classifier.features import feature_matrix
from classifier.labels import reasoning_label
from classifier.model import Head, RouterModel, compatibility
from classifier.text import conversation_text, last_user_text, prompt_messages

SEED = 20240601
# Inverse regularisation strength of the logistic heads, chosen on the held-out folds (see README).
C_DIFFICULTY = 0.1
C_REASONING = 1.0
# The hand-written seed rows are few but cover task types the benchmarks lack; they count this many times.
SEED_WEIGHT = 5.0
FOLDS = 5


@dataclass(frozen=True)
class TrainingSet:
    records: list[rd.Record]
    embeddings: npt.NDArray[np.float32]
    feats: npt.NDArray[np.float32]
    difficulty: npt.NDArray[np.int64]  # 0/1, or -1 where unknown
    reasoning: npt.NDArray[np.int64]
    groups: npt.NDArray[np.str_]  # rows sharing a group stay on one side of every split
    weights: npt.NDArray[np.float64]


def split_groups(records: Sequence[rd.Record]) -> npt.NDArray[np.str_]:
    """Split units: the subject (source + domain), or the single prompt where a source has one domain only
    (GSM8K: each question its own group), so no subject and no question is on both sides of a split."""
    domains: dict[str, set[str]] = {}
    for r in records:
        domains.setdefault(r.source, set()).add(r.domain)
    return np.array(
        [f"{r.source}:{r.domain}" if len(domains[r.source]) > 1 else f"{r.source}#{r.id}" for r in records]
    )


def build(records: list[rd.Record], strong: str, weak: str, backend: str = "onnx") -> TrainingSet:
    texts = [conversation_text(prompt_messages(r.prompt)) for r in records]
    embeddings = embed_cached(texts, backend, progress=True)
    feats = feature_matrix([last_user_text(prompt_messages(r.prompt)) for r in records])

    def label(value: int | None) -> int:
        return -1 if value is None else value

    seeded = np.array([not r.scores for r in records])
    return TrainingSet(
        records=records,
        embeddings=embeddings,
        feats=feats,
        difficulty=np.array([label(rd.difficulty_label(r, strong, weak)) for r in records], dtype=np.int64),
        reasoning=np.array([label(reasoning_label(r)) for r in records], dtype=np.int64),
        groups=split_groups(records),
        weights=np.where(seeded, SEED_WEIGHT, 1.0),
    )


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, random_state=SEED)


def fit_head(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    w: npt.NDArray[np.float64],
    groups: npt.NDArray[np.str_],
    c: float,
) -> Head:
    """Logistic regression on all rows, Platt-scaled on its out-of-fold decision values (grouped folds, so the
    calibration reflects unseen subjects, which is what serving meets)."""
    from sklearn.model_selection import GroupKFold

    known = y >= 0
    x, y, w, groups = x[known], y[known], w[known], groups[known]
    folds = min(FOLDS, len(set(groups.tolist())))
    oof = np.zeros(len(y))
    if folds >= 2:
        for train_idx, test_idx in GroupKFold(n_splits=folds, shuffle=True, random_state=SEED).split(
            x, y, groups
        ):
            if len(set(y[train_idx].tolist())) < 2:
                continue
            inner = _logistic(c).fit(x[train_idx], y[train_idx], sample_weight=w[train_idx])
            oof[test_idx] = inner.decision_function(x[test_idx])
    final = _logistic(c).fit(x, y, sample_weight=w)
    if folds < 2:
        oof = final.decision_function(x)
    platt = _logistic(1e6).fit(oof.reshape(-1, 1), y, sample_weight=w)
    return Head(
        weights=np.asarray(final.coef_[0], dtype=np.float64),
        bias=float(final.intercept_[0]),
        platt_a=float(platt.coef_[0][0]),
        platt_b=float(platt.intercept_[0]),
    )


def fit(
    ts: TrainingSet, rows: npt.NDArray[np.intp] | None = None, metadata: dict[str, Any] | None = None
) -> RouterModel:
    """Fit both heads on `rows` of the training set (all rows by default)."""
    idx = np.arange(len(ts.records)) if rows is None else rows
    feats = ts.feats[idx].astype(np.float64)
    mean = feats.mean(axis=0)
    scale = np.where(feats.std(axis=0) > 1e-9, feats.std(axis=0), 1.0)
    shell = RouterModel(mean, scale, _empty_head(), _empty_head(), {})
    x = shell.design(ts.embeddings[idx], ts.feats[idx])
    for name, y in (("difficulty", ts.difficulty[idx]), ("reasoning", ts.reasoning[idx])):
        if len(set(y[y >= 0].tolist())) < 2:
            raise rd.DataError(f"the training data needs both 0 and 1 {name} labels")
    heads = {
        "difficulty": fit_head(x, ts.difficulty[idx], ts.weights[idx], ts.groups[idx], C_DIFFICULTY),
        "reasoning": fit_head(x, ts.reasoning[idx], ts.weights[idx], ts.groups[idx], C_REASONING),
    }
    return RouterModel(mean, scale, heads["difficulty"], heads["reasoning"], metadata or {})


def ranker(ts: TrainingSet, rows: npt.NDArray[np.intp]) -> tuple[RouterModel, Head]:
    """The uncalibrated difficulty head fitted on `rows` (calibration is monotone, so rankings need no more)."""
    feats = ts.feats[rows].astype(np.float64)
    std = feats.std(axis=0)
    shell = RouterModel(feats.mean(axis=0), np.where(std > 1e-9, std, 1.0), _empty_head(), _empty_head(), {})
    y = ts.difficulty[rows]
    known = y >= 0
    x = shell.design(ts.embeddings[rows], ts.feats[rows])[known]
    lr = _logistic(C_DIFFICULTY).fit(x, y[known], sample_weight=ts.weights[rows][known])
    return shell, Head(np.asarray(lr.coef_[0], dtype=np.float64), float(lr.intercept_[0]), 1.0, 0.0)


def _empty_head() -> Head:
    return Head(np.zeros(0), 0.0, 1.0, 0.0)


def describe(paths: Sequence[str | Path], ts: TrainingSet, strong: str, weak: str) -> dict[str, Any]:
    """Artifact metadata apart from metrics and thresholds."""
    import sklearn

    return {
        **compatibility(),
        "data": [{"file": Path(p).name, "sha256": rd.file_sha256(p)} for p in paths],
        "rows": len(ts.records),
        "rows_by_source": dict(sorted(Counter(r.source for r in ts.records).items())),
        "strong_model": strong,
        "weak_model": weak,
        "difficulty_margin": rd.DIFFICULTY_MARGIN,
        "hyperparameters": {
            "c_difficulty": C_DIFFICULTY,
            "c_reasoning": C_REASONING,
            "seed_weight": SEED_WEIGHT,
            "seed": SEED,
            "folds": FOLDS,
        },
        "training_embeddings": "fp32 (torch and onnx agree to 1e-6)",
        "versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
