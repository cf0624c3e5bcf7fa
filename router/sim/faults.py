"""Fault rules and the attempt record of the simulated providers.

A rule matches by provider, model and/or a substring of the prompt, and fails a
set share of the requests it matches. The share is applied deterministically
(an accumulator, not a coin): 30% means exactly 3 of every 10, so attempt
counts in tests are exact. Every request the sim sees is recorded with the
gateway's `x-request-id`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import msgspec

Hang = Literal["before_headers", "after_headers"]


class FaultRule(msgspec.Struct, forbid_unknown_fields=True):
    provider: str | None = None
    model: str | None = None
    match: str | None = None
    rate: float = 1.0
    times: int | None = None  # apply to this many matching requests, then stop
    status: int | None = None
    retry_after: float | None = None
    error_code: str | None = None  # e.g. insufficient_quota, overloaded_error
    latency_ms: float = 0.0
    hang: Hang | None = None
    hang_s: float = 30.0
    reset: bool = False  # drop the connection mid-response
    stream_error_after: int | None = None  # N chunks, then an error event
    stream_reset_after: int | None = None  # N chunks, then the connection drops
    usage: bool = True
    malformed: bool = False
    # A quality fault: the model answers, but badly (the text opens with HEDGE); the sim's judge grades it low.
    wrong: bool = False
    chunk_ms: float | None = None  # pause between stream chunks (a slow upstream stream)
    id: int = 0
    _hits: int = 0
    _applied: int = 0


@dataclass
class AttemptRecord:
    request_id: str | None
    provider: str
    dialect: str
    model: str
    status: int
    at: float
    stream: bool
    fault: int | None
    ended_at: float | None = None  # when the sim finished (or abandoned) the response
    client_gone_at: float | None = None  # when the sim saw the gateway close a paced stream


# attempts a sim keeps for /_sim/attempts unless told otherwise (`tiergate sim --keep-attempts`)
KEEP_ATTEMPTS = 200_000


@dataclass
class FaultBook:
    rules: list[FaultRule] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    max_attempts_kept: int = KEEP_ATTEMPTS
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, rule: FaultRule) -> int:
        rule.id = next(self._ids)
        self.rules.append(rule)
        return rule.id

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, provider: str, model: str, prompt: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.provider is not None and rule.provider != provider:
                continue
            if rule.model is not None and rule.model != model:
                continue
            if rule.match is not None and rule.match not in prompt:
                continue
            if rule.times is not None and rule._applied >= rule.times:
                continue
            rule._hits += 1
            # Deterministic share: fire when the running total of `rate` crosses an integer.
            if int(rule._hits * rule.rate + 1e-9) > int((rule._hits - 1) * rule.rate + 1e-9):
                rule._applied += 1
                return rule
        return None

    def begin(
        self, request_id: str | None, provider: str, dialect: str, model: str, stream: bool
    ) -> AttemptRecord:
        """Record an attempt as it arrives (status 0 until it ends), so hung attempts are visible too."""
        record = AttemptRecord(request_id, provider, dialect, model, 0, time.time(), stream, None)
        if self.max_attempts_kept <= 0:
            return record
        if len(self.attempts) >= self.max_attempts_kept:
            del self.attempts[: self.max_attempts_kept // 2]
        self.attempts.append(record)
        return record

    def record(
        self,
        request_id: str | None,
        provider: str,
        dialect: str,
        model: str,
        status: int,
        stream: bool,
        fault: FaultRule | None,
    ) -> None:
        record = self.begin(request_id, provider, dialect, model, stream)
        record.status, record.fault, record.ended_at = status, fault.id if fault else None, time.time()

    def attempts_json(self, request_id: str | None) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.attempts if request_id is None or a.request_id == request_id]
