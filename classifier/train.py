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
from classifier import difficulty
from classifier.embedcache import embed_cached
from classifier.features import feature_matrix
from classifier.labels import reasoning_label
from classifier.model import Head, RouterModel, compatibility
from classifier.text import conversation_text, last_user_text, prompt_messages

SEED = 20240601
# Inverse regularisation strength of the reasoning head (the difficulty mixture's are in difficulty.py).
C_REASONING = 1.0
# Weight of the hand-written seed rows (rows without measured outcomes). They cover task types the benchmarks
# lack; for reasoning their labels are better than the benchmarks' subject-level ones, so they count more there.
# For difficulty their labels are judgement, not measurement: weighted up they cost held-out APGR (MMLU 0.595
# at 5 against 0.614 at 1), so they count once.
SEED_WEIGHT = 1.0
SEED_WEIGHT_REASONING = 5.0
FOLDS = 5


@dataclass(frozen=True)
class TrainingSet:
    records: list[rd.Record]
    embeddings: npt.NDArray[np.float32]
    feats: npt.NDArray[np.float32]
    difficulty: npt.NDArray[np.int64]  # 0/1, or -1 where unknown
    reasoning: npt.NDArray[np.int64]
    strong_ok: npt.NDArray[np.int64]  # did the strong model answer well (0/1, -1 unknown)
    weak_ok: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.bool_]  # the row has measured scores for both models
    sources: npt.NDArray[np.str_]
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

    outcome = np.array([strong in r.scores and weak in r.scores for r in records])
    difficulty = np.array([label(rd.difficulty_label(r, strong, weak)) for r in records], dtype=np.int64)
    # Outcomes per model: measured where scored (a score above 0.5 counts as a good answer); for rows with only
    # a difficulty label, 1 reads "the strong model succeeds, the weak fails" and 0 "both succeed" (the seed
    # set's easy prompts are ones any model answers).
    strong_ok = np.where(
        outcome, [int(r.scores.get(strong, 0.0) > 0.5) for r in records], np.where(difficulty >= 0, 1, -1)
    )
    weak_ok = np.where(
        outcome,
        [int(r.scores.get(weak, 0.0) > 0.5) for r in records],
        np.where(difficulty >= 0, 1 - difficulty, -1),
    )
    return TrainingSet(
        records=records,
        embeddings=embeddings,
        feats=feats,
        difficulty=difficulty,
        reasoning=np.array([label(reasoning_label(r)) for r in records], dtype=np.int64),
        strong_ok=strong_ok.astype(np.int64),
        weak_ok=weak_ok.astype(np.int64),
        outcome=outcome,
        sources=np.array([r.source for r in records]),
        groups=split_groups(records),
        weights=np.where(outcome, 1.0, SEED_WEIGHT),
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


def _scaled(
    ts: TrainingSet, idx: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    feats = ts.feats[idx].astype(np.float64)
    std = feats.std(axis=0)
    return feats.mean(axis=0), np.where(std > 1e-9, std, 1.0)


def fit_gain(ts: TrainingSet, rows: npt.NDArray[np.intp]) -> tuple[RouterModel, difficulty.Difficulty]:
    """The uncalibrated difficulty mixture on `rows`, with the feature scaling it expects (a model shell)."""
    mean, scale = _scaled(ts, rows)
    d = difficulty.fit(
        _design(ts, rows, mean, scale),
        ts.strong_ok[rows],
        ts.weak_ok[rows],
        ts.sources[rows],
        ts.weights[rows],
        ts.outcome[rows],
    )
    return RouterModel(mean, scale, d, _empty_head(), {}), d


def _design(
    ts: TrainingSet, idx: npt.NDArray[np.intp], mean: npt.NDArray[np.float64], scale: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    return np.hstack(
        [ts.embeddings[idx].astype(np.float64), (ts.feats[idx].astype(np.float64) - mean) / scale]
    )


def fit(ts: TrainingSet, platt: tuple[float, float], metadata: dict[str, Any] | None = None) -> RouterModel:
    """Fit both scores on every row; `platt` calibrates the difficulty gain (from held-out folds)."""
    idx = np.arange(len(ts.records))
    for name, y in (("difficulty", ts.difficulty), ("reasoning", ts.reasoning)):
        if len(set(y[y >= 0].tolist())) < 2:
            raise rd.DataError(f"the training data needs both 0 and 1 {name} labels")
    shell, d = fit_gain(ts, idx)
    x = _design(ts, idx, shell.feature_mean, shell.feature_scale)
    weights = np.where(ts.outcome, 1.0, SEED_WEIGHT_REASONING)
    reasoning = fit_head(x, ts.reasoning, weights, ts.groups, C_REASONING)
    return RouterModel(
        shell.feature_mean, shell.feature_scale, d.calibrated(*platt), reasoning, metadata or {}
    )


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
            "difficulty_c_general": difficulty.C_GENERAL,
            "difficulty_c_specialist": difficulty.C_SPECIALIST,
            "difficulty_specialist_share": difficulty.SPECIALIST_SHARE,
            "difficulty_min_expert_rows": difficulty.MIN_EXPERT_ROWS,
            "c_reasoning": C_REASONING,
            "seed_weight": SEED_WEIGHT,
            "seed_weight_reasoning": SEED_WEIGHT_REASONING,
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
