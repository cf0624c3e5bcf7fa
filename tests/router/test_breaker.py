"""The per-deployment breaker's states, and the retry budget, on a hand-driven clock."""

from __future__ import annotations

from router.breaker import BREAKER_OPEN, PROBE_BUSY, QUOTA, DeploymentHealth, HealthBook
from router.retry import RetryBudget, backoff_s
from router.settings import BreakerConfig, RetryConfig


def test_opens_after_n_consecutive_failures_then_probes_and_closes() -> None:
    health = DeploymentHealth("p/m", BreakerConfig(failures=3, ejection_s=5))
    for i in range(3):
        assert health.blocked(float(i)) is None
        health.start()
        health.finish(False, float(i))
    assert health.state == "open" and health.blocked(3.0) == BREAKER_OPEN
    assert health.available_at(3.0) == 7.0
    # After the ejection time one probe goes through; others skip while it runs.
    assert health.blocked(7.0) is None and health.state == "half_open"
    health.start()
    assert health.blocked(7.1) == PROBE_BUSY
    health.finish(True, 7.2)
    assert health.state == "closed" and health.blocked(7.3) is None and health.consecutive == 0


def test_a_failed_probe_reopens_and_a_success_resets_the_count() -> None:
    health = DeploymentHealth("p/m", BreakerConfig(failures=2, ejection_s=1))
    health.start()
    health.finish(False, 0)
    health.start()
    health.finish(True, 0)  # not consecutive any more
    health.start()
    health.finish(False, 0)
    assert health.state == "closed"
    health.start()
    health.finish(False, 0)
    assert health.state == "open"
    assert health.blocked(1.0) is None
    health.start()
    health.finish(False, 1.0)
    assert health.state == "open" and health.blocked(1.5) == BREAKER_OPEN and health.opened_count == 2
    # A cancelled probe frees the slot without deciding anything.
    assert health.blocked(2.0) is None
    health.start()
    health.finish(None, 2.0)
    assert health.state == "half_open" and health.blocked(2.0) is None


def test_cooling_window_and_bounded_book() -> None:
    now = [0.0]
    book = HealthBook(BreakerConfig(), limit=3, clock=lambda: now[0])
    health = book.get("a")
    health.cool(60.0, QUOTA)
    assert health.blocked(10.0) == QUOTA and health.blocked(60.0) is None
    for key in "bcde":
        book.get(key)
    assert len(book.snapshot()) <= 3 and "a" in book.snapshot()  # the cooling one is kept


def test_budget_caps_retries_in_an_outage_but_not_in_a_partial_failure() -> None:
    now = [0.0]
    config = RetryConfig(budget_ratio=0.2, budget_min_per_s=10, budget_burst=20)
    budget = RetryBudget(config, clock=lambda: now[0])
    # Total outage at 100 req/s for 10 s, every request wanting 3 retries.
    retries = 0
    for i in range(1000):
        now[0] = i / 100
        budget.deposit()
        retries += sum(budget.spend() for _ in range(3))
    assert retries <= 20 + 1000 * 0.2 + 10 * 10  # burst + ratio + per-second floor
    assert retries / 1000 < 0.35
    # 30% of requests failing once at 50 req/s: every retry is granted.
    budget = RetryBudget(config, clock=lambda: now[0])
    denied = 0
    for i in range(1000):
        now[0] = 100 + i / 50
        budget.deposit()
        if i % 10 in (3, 6, 9):
            denied += not budget.spend()
    assert denied == 0


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    config = RetryConfig(backoff_base_s=0.1, backoff_max_s=0.5)
    for round_no, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        pauses = [backoff_s(config, round_no) for _ in range(200)]
        assert all(ceiling / 2 <= p <= ceiling for p in pauses)
        assert len(set(pauses)) > 100
