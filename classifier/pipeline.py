"""The train and eval commands' work, apart from argument parsing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier import data as rd
from classifier import difficulty, evaluate, metrics
from classifier.embedcache import embed_cached
from classifier.features import feature_matrix
from classifier.model import load_model
from classifier.text import conversation_text, last_user_text, prompt_messages
from classifier.train import FOLDS, SEED, build, describe, fit, fit_gain


def train_artifact(
    paths: Sequence[str | Path],
    out: str | Path,
    strong: str | None = None,
    weak: str | None = None,
    backend: str = "onnx",
) -> tuple[str, dict[str, Any]]:
    """Train on `paths`, evaluate on grouped held-out folds, write the artifact; returns (version, metadata)."""
    records = rd.read_all(paths)
    scored = [r for r in records if len(r.scores) >= 2]
    strong, weak = rd.pick_pair(scored or records, strong, weak)
    ts = build(records, strong, weak, backend)
    outcome_rows = np.array([strong in r.scores and weak in r.scores for r in records])
    groups_with_outcomes = len(set(ts.groups[outcome_rows].tolist()))
    metadata = describe(paths, ts, strong, weak)
    if groups_with_outcomes >= FOLDS:
        gains = evaluate.heldout_scores(ts, outcome_rows)
        table, _ = evaluate.report(ts, gains, strong, weak)
        metadata["heldout_metrics"] = table
        metadata["heldout_method"] = (
            f"{FOLDS}-fold cross-validation grouped by subject (by question where a source has one domain), "
            f"seed {SEED}"
        )
        metadata["thresholds_from"] = "held-out scores of the rows with outcomes"
    else:
        shell, mixture = fit_gain(ts, np.arange(len(records)))
        gains = np.where(outcome_rows, mixture.gain(shell.design(ts.embeddings, ts.feats)), np.nan)
        metadata["thresholds_from"] = "in-sample scores (too few groups for held-out folds)"
    # Calibrate on the rows with outcomes and a known difficulty label: P(weak fails where strong succeeds).
    calibrate = outcome_rows & (ts.difficulty >= 0)
    platt = difficulty.platt(gains[calibrate], ts.difficulty[calibrate])
    model = fit(ts, platt, metadata=metadata)
    # The held-out calibrated difficulty of each row with outcomes: what the recommended thresholds cut.
    scores = np.where(
        outcome_rows, 1.0 / (1.0 + np.exp(-(platt[0] * np.nan_to_num(gains) + platt[1]))), np.nan
    )
    metadata["thresholds"] = {
        "difficulty": evaluate.thresholds(scores),
        "reasoning": 0.5,
        "note": (
            "difficulty: send a request to the strong model when its score exceeds the threshold of the share "
            "you want; the shares are those of the training benchmarks, real traffic (more small talk) sends "
            "fewer. reasoning: above 0.5 the request more likely than not needs multi-step reasoning."
        ),
    }
    version = model.save(out)
    return version, metadata


def evaluate_file(
    paths: Sequence[str | Path],
    artifact: str | Path | None = None,
    strong: str | None = None,
    weak: str | None = None,
    backend: str = "onnx",
) -> dict[str, Any]:
    """Metrics of the artifact's difficulty score (and a random router) on the rows scoring both models."""
    model, version = load_model(artifact)
    records = rd.read_all(paths)
    strong, weak = rd.pick_pair(records, strong, weak)
    rows = [r for r in records if strong in r.scores and weak in r.scores]
    if not rows:
        raise rd.DataError(f"no row scores both {strong!r} and {weak!r}")
    messages = [prompt_messages(r.prompt) for r in rows]
    embeddings = embed_cached([conversation_text(m) for m in messages], backend)
    feats = feature_matrix([last_user_text(m) for m in messages])
    difficulty, _ = model.predict(embeddings, feats)
    hi = np.array([r.scores[strong] for r in rows])
    lo = np.array([r.scores[weak] for r in rows])
    ours, _ = metrics.evaluate(difficulty, hi, lo)
    rand, _ = metrics.evaluate(metrics.random_router(len(rows), SEED), hi, lo)
    return {
        "artifact": version,
        "strong": strong,
        "weak": weak,
        "rows": len(rows),
        "classifier": ours.as_dict(),
        "random": rand.as_dict(),
    }
