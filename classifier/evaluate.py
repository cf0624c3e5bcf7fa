"""Held-out evaluation the way RouteLLM evaluates, and recommended thresholds.

`heldout_scores` gives every benchmark row a score from a model that never saw its subject (MMLU) or its question
(GSM8K): grouped K-fold cross-validation, where each fold's model is trained on the other folds plus the rows
without outcomes (the seed set). The metrics of those scores are comparable with RouteLLM's figures on the same
benchmarks, with one difference in setting: RouteLLM's routers never trained on MMLU or GSM8K at all (they learnt
from Chatbot Arena preferences), while ours learn from the other subjects and questions of the same benchmarks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from classifier import metrics
from classifier.train import FOLDS, SEED, TrainingSet, fit_gain

# RouteLLM's published figures (Ong et al., 2024, arXiv:2406.18665, the MMLU and GSM8K result tables), GPT-4 vs
# Mixtral-8x7B, for its best routers, trained on Chatbot Arena preferences augmented with MMLU-validation golden
# labels (D_arena + D_gold) or GPT-4-judge labels. Values: (APGR, CPT(50%), CPT(80%)); None where the best figure
# of that column was not attributable to the same router. Random routing scores 0.5 / 50% / 80% by construction.
ROUTELLM_PUBLISHED: dict[str, dict[str, tuple[float | None, float | None, float | None]]] = {
    "mmlu": {
        "RouteLLM SW ranking (D_arena + D_gold)": (0.603, 0.354, None),
        "RouteLLM causal LLM (D_arena + D_gold)": (0.600, 0.355, None),
        "RouteLLM best CPT(80%) of any router": (None, None, 0.703),
    },
    "gsm8k": {
        "RouteLLM causal LLM (augmented)": (0.622, 0.336, 0.633),
    },
}


RANDOM_DRAWS = 20


def heldout_scores(ts: TrainingSet, outcome_rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Out-of-fold difficulty gains (the uncalibrated ranking score) for the rows with outcomes, NaN elsewhere."""
    from sklearn.model_selection import GroupKFold

    scores = np.full(len(ts.records), np.nan)
    rows = np.flatnonzero(outcome_rows)
    always_train = np.flatnonzero(~outcome_rows)
    folds = GroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train_idx, test_idx in folds.split(rows, groups=ts.groups[rows]):
        shell, mixture = fit_gain(ts, np.concatenate([rows[train_idx], always_train]))
        test = rows[test_idx]
        scores[test] = mixture.gain(shell.design(ts.embeddings[test], ts.feats[test]))
    return scores


def report(
    ts: TrainingSet, scores: npt.NDArray[np.float64], strong: str, weak: str
) -> tuple[dict[str, Any], dict[str, dict[str, metrics.Curve]]]:
    """Metrics per source (and over all rows) for this classifier and a random router, plus their curves."""
    sources = sorted({r.source for r, s in zip(ts.records, scores, strict=True) if not np.isnan(s)})
    table: dict[str, Any] = {}
    curves: dict[str, dict[str, metrics.Curve]] = {}
    for source in [*sources, "all"]:
        idx = np.array(
            [i for i, r in enumerate(ts.records) if not np.isnan(scores[i]) and source in ("all", r.source)]
        )
        hi = np.array([ts.records[i].scores[strong] for i in idx])
        lo = np.array([ts.records[i].scores[weak] for i in idx])
        ours, ours_curve = metrics.evaluate(scores[idx], hi, lo)
        # One random draw varies by a few points on ~1k rows; the mean of RANDOM_DRAWS draws is the baseline.
        draws = [
            metrics.evaluate(metrics.random_router(len(idx), SEED + k), hi, lo) for k in range(RANDOM_DRAWS)
        ]
        rand_curve = draws[0][1]
        rand = {key: float(np.mean([d[0].as_dict()[key] for d in draws])) for key in ours.as_dict()}
        rand["rows"] = len(idx)
        table[source] = {"classifier": ours.as_dict(), "random": rand}
        curves[source] = {"classifier": ours_curve, "random": rand_curve}
    return table, curves


def thresholds(
    scores: npt.NDArray[np.float64], shares: tuple[float, ...] = (0.2, 0.35, 0.5)
) -> dict[str, float]:
    """Difficulty thresholds sending about each share of the held-out benchmark prompts to the strong model."""
    valid = np.sort(scores[~np.isnan(scores)])
    return {f"strong_share_{round(s * 100)}": float(np.quantile(valid, 1.0 - s)) for s in shares}
