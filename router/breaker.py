"""Per-deployment health: a circuit breaker, a Retry-After window and the requests in flight.

A deployment's breaker opens after `failures` consecutive failures (5xx, 529, timeouts, resets, malformed
bodies). While open no request is sent to it; after `ejection_s` one request is let through as a half-open
probe (the others still skip it), and its outcome closes the breaker or opens it again. Separately, a
deployment that answered with Retry-After (or a quota 429) is not tried again until that window ends.

Everything here is O(1) per call and allocation-free on the hot path: `blocked()` is a few comparisons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from router.settings import BreakerConfig

State = Literal["closed", "open", "half_open"]

# Why a deployment was skipped; also the `error_type` of the skipped entry in the request's attempts.
BREAKER_OPEN = "breaker_open"
PROBE_BUSY = "breaker_half_open_busy"
RETRY_AFTER = "retry_after_window"
QUOTA = "quota_cooldown"


class DeploymentHealth:
    __slots__ = (
        "_config",
        "consecutive",
        "cool_reason",
        "cool_until",
        "failures_total",
        "in_flight",
        "key",
        "opened_count",
        "opened_until",
        "probing",
        "state",
        "successes_total",
    )

    def __init__(self, key: str, config: BreakerConfig) -> None:
        self.key = key
        self._config = config
        self.state: State = "closed"
        self.consecutive = 0
        self.opened_until = 0.0
        self.opened_count = 0
        self.probing = False
        self.cool_until = 0.0
        self.cool_reason = RETRY_AFTER
        self.in_flight = 0
        self.failures_total = 0
        self.successes_total = 0

    def blocked(self, now: float) -> str | None:
        """Why this deployment must not be tried now, or None when it may."""
        if self.cool_until > now:
            return self.cool_reason
        if self.state == "closed":
            return None
        if self.state == "open":
            if now < self.opened_until:
                return BREAKER_OPEN
            self.state = "half_open"
            self.probing = False
        return PROBE_BUSY if self.probing else None

    def available_at(self, now: float) -> float:
        """When a request may next be sent here (now if it may already)."""
        at = self.cool_until
        if self.state == "open":
            at = max(at, self.opened_until)
        return max(at, now)

    def window_ends(self) -> float | None:
        """When this deployment's Retry-After (or quota) window ends, if only that holds it back; None when
        its breaker is open (an ejected deployment is not worth waiting for)."""
        return None if self.state == "open" else self.cool_until

    def start(self) -> None:
        self.in_flight += 1
        if self.state == "half_open":
            self.probing = True

    def finish(self, ok: bool | None, now: float) -> None:
        """One attempt ended: ok (the deployment answered), a failure (False) or neither (cancelled)."""
        self.in_flight -= 1
        if ok is None:
            self.probing = False
        elif ok:
            self.successes_total += 1
            self.consecutive = 0
            if self.state != "closed":
                self.state = "closed"
                self.probing = False
        else:
            self.failures_total += 1
            self.consecutive += 1
            if self.state == "half_open" or (
                self.state == "closed" and self.consecutive >= self._config.failures
            ):
                self.state = "open"
                self.opened_until = now + self._config.ejection_s
                self.opened_count += 1
                self.probing = False

    def cool(self, until: float, reason: str) -> None:
        if until > self.cool_until:
            self.cool_until = until
            self.cool_reason = reason

    def snapshot(self, now: float) -> dict[str, Any]:
        self.blocked(now)  # moves an expired open breaker to half-open, so the report is current
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive,
            "in_flight": self.in_flight,
            "opened": self.opened_count,
            "failures": self.failures_total,
            "successes": self.successes_total,
            "open_for_s": round(max(0.0, self.opened_until - now), 3) if self.state == "open" else 0.0,
            "cooling_for_s": round(max(0.0, self.cool_until - now), 3),
        }


class HealthBook:
    """Every deployment's health, by deployment key. Bounded: ad-hoc `provider/model` names a client
    invents must not grow it without limit, so healthy idle entries are dropped when it is full."""

    def __init__(
        self, config: BreakerConfig, *, limit: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._limit = limit
        self.clock = clock
        self._entries: dict[str, DeploymentHealth] = {}

    def reconfigure(self, config: BreakerConfig) -> None:
        self._config = config
        for entry in self._entries.values():
            entry._config = config

    def get(self, key: str) -> DeploymentHealth:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._limit:
                self._prune()
            entry = self._entries[key] = DeploymentHealth(key, self._config)
        return entry

    def _prune(self) -> None:
        now = self.clock()
        for key in [k for k, e in self._entries.items() if e.in_flight == 0 and e.blocked(now) is None]:
            del self._entries[key]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        return {key: entry.snapshot(now) for key, entry in sorted(self._entries.items())}
