"""Routing metrics as RouteLLM defines them (Ong et al., 2024, "RouteLLM: Learning to Route LLMs with Preference
Data", section 5.1), computed exactly over every threshold rather than at sampled quantiles.

A router scores each prompt; a threshold sends prompts scoring above it to the strong model. With `k` of `n`
prompts sent to the strong model (the `k` highest scores), quality is the mean score of the model each prompt went
to, and

* PGR(k) = (quality(k) - weak quality) / (strong quality - weak quality), the performance gap recovered;
* APGR = the area under PGR against the strong-call share k/n from 0 to 1 (trapezoids over every k; RouteLLM
  samples 10 quantile thresholds, which approximates the same area). Random routing gives 0.5 in expectation;
* CPT(x) = the smallest strong-call share at which PGR reaches x (interpolated between neighbouring k);
* AUC = ROC AUC of the router's score for the event "the strong model beats the weak one" (data.py's
  difficulty label): how well the score ranks the prompts where routing up pays off. This one is ours;
  RouteLLM's tables report only APGR and CPT.

Prompts with equal scores cannot be separated by any threshold, so a tie group is routed together and the curve
is interpolated linearly across it (the expectation under random tie-breaking).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    share: FloatArray  # strong-call share at each point, 0..1
    quality: FloatArray  # mean quality at that share
    pgr: FloatArray


@dataclass(frozen=True)
class RouterMetrics:
    apgr: float
    cpt50: float
    cpt80: float
    auc: float
    strong_quality: float
    weak_quality: float
    rows: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def curve(scores: npt.ArrayLike, strong: npt.ArrayLike, weak: npt.ArrayLike) -> Curve:
    """The cost-quality curve, one point per tie-group boundary, from share 0 (all weak) to 1 (all strong)."""
    s = np.asarray(scores, dtype=np.float64)
    hi = np.asarray(strong, dtype=np.float64)
    lo = np.asarray(weak, dtype=np.float64)
    n = len(s)
    if n == 0 or not (len(hi) == len(lo) == n):
        raise ValueError("scores, strong and weak must be non-empty and of equal length")
    order = np.argsort(-s, kind="stable")
    gains = (hi - lo)[order]
    # Boundaries between tie groups of the sorted scores: only there can a threshold cut.
    sorted_scores = s[order]
    cut = np.flatnonzero(np.diff(sorted_scores) != 0) + 1
    k = np.concatenate(([0], cut, [n]))
    cumulative = np.concatenate(([0.0], np.cumsum(gains)))[k]
    weak_quality = float(lo.mean())
    strong_quality = float(hi.mean())
    quality = weak_quality + cumulative / n
    gap = strong_quality - weak_quality
    pgr = (quality - weak_quality) / gap if gap != 0 else np.full(len(k), np.nan)
    return Curve(share=k / n, quality=quality, pgr=pgr)


def apgr(c: Curve) -> float:
    return float(np.trapezoid(c.pgr, c.share))


def cpt(c: Curve, target: float) -> float:
    """Smallest strong-call share where PGR reaches `target` (1.0 if it never does before all calls go up)."""
    reached = np.flatnonzero(c.pgr >= target - 1e-12)
    if len(reached) == 0:
        return 1.0
    i = int(reached[0])
    if i == 0:
        return float(c.share[0])
    x0, x1, y0, y1 = c.share[i - 1], c.share[i], c.pgr[i - 1], c.pgr[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0)) if y1 != y0 else float(x1)


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Mann-Whitney ROC AUC with ties counted half; NaN when only one class is present."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # Average ranks within tie groups.
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_s) != 0) + 1))
    ends = np.concatenate((starts[1:], [len(s)]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def evaluate(
    scores: npt.ArrayLike, strong: npt.ArrayLike, weak: npt.ArrayLike, margin: float = 0.2
) -> tuple[RouterMetrics, Curve]:
    """All metrics of one router on one data set, and its curve."""
    c = curve(scores, strong, weak)
    hi = np.asarray(strong, dtype=np.float64)
    lo = np.asarray(weak, dtype=np.float64)
    metrics = RouterMetrics(
        apgr=apgr(c),
        cpt50=cpt(c, 0.5),
        cpt80=cpt(c, 0.8),
        auc=roc_auc(scores, hi - lo > margin),
        strong_quality=float(hi.mean()),
        weak_quality=float(lo.mean()),
        rows=len(hi),
    )
    return metrics, c


def random_router(n: int, seed: int = 0) -> FloatArray:
    """Scores of a random router (uniform, fixed seed)."""
    return np.random.default_rng(seed).random(n)
