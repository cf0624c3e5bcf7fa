"""Retry pacing: the process-wide retry budget and the backoff between rounds.

The budget is what keeps a total outage from becoming a retry storm. Every request deposits
`budget_ratio` tokens; `budget_min_per_s` tokens also arrive each second so a quiet gateway can still
retry; the bucket holds at most `budget_burst`. Each attempt after a request's first spends one token,
and with none left the request ends with the failure it has. While providers are healthy the budget is
never the limit (a 30% failure rate needs 0.3 retries per request; 50 req/s earns 0.2 x 50 + 10 = 20 per
second); when everything fails it caps attempts at about (1 + ratio) per request, and the breakers soon
stop even those.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from router.settings import RetryConfig


class RetryBudget:
    __slots__ = ("_burst", "_clock", "_last", "_per_s", "_ratio", "denied", "tokens")

    def __init__(self, config: RetryConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._ratio = config.budget_ratio
        self._per_s = config.budget_min_per_s
        self._burst = config.budget_burst
        self._clock = clock
        self._last = clock()
        self.tokens = config.budget_burst
        self.denied = 0

    def deposit(self) -> None:
        """One request arrived."""
        self.tokens = min(self._burst, self.tokens + self._ratio)

    def spend(self) -> bool:
        """May one more attempt (a retry or a fallback) be sent?"""
        now = self._clock()
        if now > self._last:
            self.tokens = min(self._burst, self.tokens + (now - self._last) * self._per_s)
            self._last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.denied += 1
        return False


def backoff_s(config: RetryConfig, round_no: int) -> float:
    """Pause before round `round_no` (1, 2, ...): exponential with "equal jitter" (half fixed, half random),
    so a crowd of failed requests does not come back in step."""
    ceiling: float = min(config.backoff_max_s, config.backoff_base_s * 2.0 ** (round_no - 1))
    return ceiling / 2 + random.random() * ceiling / 2
