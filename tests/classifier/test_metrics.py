"""RouteLLM's metrics on small inputs whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classifier import metrics

# Two prompts only the strong model solves, one both solve, one neither: the strong-minus-weak gap is 0.5.
STRONG = [1.0, 1.0, 1.0, 0.0]
WEAK = [0.0, 0.0, 1.0, 0.0]


def test_perfect_router_has_the_hand_computed_apgr_and_cpt() -> None:
    # Sending the two gainful prompts first: PGR at shares 0, .25, .5, .75, 1 is 0, .5, 1, 1, 1.
    m, c = metrics.evaluate([0.9, 0.8, 0.2, 0.1], STRONG, WEAK)
    assert list(c.pgr) == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])
    assert m.apgr == pytest.approx(0.75)
    assert m.cpt50 == pytest.approx(0.25)
    assert m.cpt80 == pytest.approx(0.4)  # 80% of the way from share .25 (PGR .5) to .5 (PGR 1) is 60% of it
    assert m.auc == pytest.approx(1.0)
    assert (m.strong_quality, m.weak_quality, m.rows) == (0.75, 0.25, 4)


def test_worst_router_sends_gainful_prompts_last() -> None:
    m, _ = metrics.evaluate([0.1, 0.2, 0.8, 0.9], STRONG, WEAK)
    assert m.apgr == pytest.approx(0.25)
    assert m.cpt80 == pytest.approx(0.9)
    assert m.auc == pytest.approx(0.0)


def test_constant_scores_are_one_tie_group_routed_together() -> None:
    m, c = metrics.evaluate([0.5, 0.5, 0.5, 0.5], STRONG, WEAK)
    assert list(c.share) == [0.0, 1.0]
    assert m.apgr == pytest.approx(0.5)
    assert m.auc == pytest.approx(0.5)


def test_random_router_is_about_one_half() -> None:
    rng = np.random.default_rng(7)
    strong = (rng.random(20_000) < 0.8).astype(float)
    weak = (rng.random(20_000) < 0.6).astype(float)
    m, _ = metrics.evaluate(metrics.random_router(20_000, seed=3), strong, weak)
    assert m.apgr == pytest.approx(0.5, abs=0.02)
    assert m.cpt50 == pytest.approx(0.5, abs=0.03)
    assert m.cpt80 == pytest.approx(0.8, abs=0.03)


def test_auc_counts_ties_half_and_is_nan_for_one_class() -> None:
    assert metrics.roc_auc([1.0, 1.0], [1, 0]) == pytest.approx(0.5)
    assert metrics.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert math.isnan(metrics.roc_auc([0.1, 0.2], [1, 1]))


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        metrics.curve([0.1, 0.2], [1.0], [0.0, 1.0])
