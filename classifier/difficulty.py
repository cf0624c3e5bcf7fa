"""The difficulty score: a gated mixture of per-source experts, each two logistic regressions.

Each expert predicts P(strong model correct) and P(weak model correct); its score is their difference, the
expected quality gained by routing up. Predicting the two outcomes separately ranks better on held-out subjects
than predicting the rarer event "weak fails, strong succeeds" directly (MMLU APGR 0.60 against 0.56), because
each head sees all rows' outcomes rather than only the 18% where the models differ.

Why experts: the benchmarks pull the regularisation opposite ways. Across MMLU subjects only coarse signals
transfer (strong regularisation, C 0.01 for the strong head, 0.1 for the weak); within GSM8K, finer detail of the
word problem matters (C 0.03 with its rows up-weighted). One model must trade them off (MMLU 0.58-0.61 against
GSM8K 0.57-0.64 in our sweeps); a gate, a multinomial logistic regression predicting which source's data a
prompt resembles, lets each expert serve the prompts like its own data. Each expert trains on all rows; only
the weighting and regularisation differ. Sources with fewer than MIN_EXPERT_ROWS outcome rows get no expert of
their own (their rows still train every expert).

The mixture's score is finally Platt-scaled on held-out folds into P(weak fails where strong succeeds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_EXPERT_ROWS = 300
# C of (strong head, weak head): the largest source's expert, then every smaller source's expert.
C_GENERAL = (0.01, 0.1)
C_SPECIALIST = (0.03, 0.03)
# A specialist weighs its own source's rows up until they are this share of the others' total weight.
SPECIALIST_SHARE = 0.4
C_GATE = 1.0
SEED = 20240601

F64 = npt.NDArray[np.float64]


def _sigmoid(x: F64) -> F64:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0))), dtype=np.float64)


@dataclass(frozen=True)
class Difficulty:
    experts: tuple[str, ...]
    strong_w: F64  # (experts, inputs)
    strong_b: F64  # (experts,)
    weak_w: F64
    weak_b: F64
    gate_w: F64  # (experts, inputs); softmax over experts
    gate_b: F64
    platt_a: float = 1.0
    platt_b: float = 0.0

    def gain(self, x: npt.NDArray[np.floating[Any]]) -> F64:
        """Expected quality gained by the strong model, per row (the ranking score)."""
        logits = x @ self.gate_w.T + self.gate_b
        logits -= logits.max(axis=1, keepdims=True)
        gate = np.exp(logits)
        gate /= gate.sum(axis=1, keepdims=True)
        gains = _sigmoid(x @ self.strong_w.T + self.strong_b) - _sigmoid(x @ self.weak_w.T + self.weak_b)
        return np.asarray((gate * gains).sum(axis=1), dtype=np.float64)

    def probability(self, x: npt.NDArray[np.floating[Any]]) -> F64:
        return _sigmoid(self.platt_a * self.gain(x) + self.platt_b)

    def calibrated(self, platt_a: float, platt_b: float) -> Difficulty:
        return Difficulty(
            self.experts,
            self.strong_w,
            self.strong_b,
            self.weak_w,
            self.weak_b,
            self.gate_w,
            self.gate_b,
            platt_a,
            platt_b,
        )


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, random_state=SEED)


def fit(
    x: F64,
    strong_y: npt.NDArray[np.int64],
    weak_y: npt.NDArray[np.int64],
    sources: npt.NDArray[np.str_],
    weights: F64,
    outcome: npt.NDArray[np.bool_],
) -> Difficulty:
    """Experts and gate on rows with labels (strong_y/weak_y >= 0); `outcome` marks rows with measured scores."""
    counts = Counter(sources[outcome].tolist())
    experts = [s for s, n in counts.most_common() if n >= MIN_EXPERT_ROWS] or [counts.most_common(1)[0][0]]
    known = (strong_y >= 0) & (weak_y >= 0)
    ws: list[F64] = []
    ww: list[F64] = []
    bs: list[float] = []
    bw: list[float] = []
    for rank, source in enumerate(experts):
        w = weights.copy()
        c_strong, c_weak = C_GENERAL if rank == 0 else C_SPECIALIST
        if rank > 0:
            own = sources == source
            factor = SPECIALIST_SHARE * float(w[known & ~own].sum()) / max(float(w[known & own].sum()), 1e-9)
            w[own] *= max(1.0, factor)
        for c, y, wlist, blist in ((c_strong, strong_y, ws, bs), (c_weak, weak_y, ww, bw)):
            rows = known & (y >= 0)
            labels = y[rows]
            if len(set(labels.tolist())) < 2:  # a model always right (or wrong) here: a constant head
                p = float(np.clip(labels.mean(), 1e-3, 1 - 1e-3))
                wlist.append(np.zeros(x.shape[1]))
                blist.append(float(np.log(p / (1 - p))))
                continue
            model = _logistic(c).fit(x[rows], labels, sample_weight=w[rows])
            wlist.append(np.asarray(model.coef_[0], dtype=np.float64))
            blist.append(float(model.intercept_[0]))
    gate_w = np.zeros((len(experts), x.shape[1]))
    gate_b = np.zeros(len(experts))
    if len(experts) > 1:
        rows = outcome & np.isin(sources, experts)
        index = {s: i for i, s in enumerate(experts)}
        gate = _logistic(C_GATE).fit(x[rows], np.array([index[s] for s in sources[rows]]))
        if len(experts) == 2:  # binary: P(class 1) = softmax([0, w.x + b])[1]
            gate_w[1], gate_b[1] = gate.coef_[0], gate.intercept_[0]
        else:
            gate_w[:], gate_b[:] = gate.coef_, gate.intercept_
    return Difficulty(tuple(experts), np.array(ws), np.array(bs), np.array(ww), np.array(bw), gate_w, gate_b)


def platt(gain: F64, label: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Platt scaling of held-out gains to P(label)."""
    model = _logistic(1e6).fit(gain.reshape(-1, 1), label)
    return float(model.coef_[0][0]), float(model.intercept_[0])
