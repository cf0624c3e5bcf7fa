"""Exact cost of one request from the usage a provider reports.

All arithmetic is Decimal: a report that sums millions of rows must add up to
the cent. Prices are USD per 1M tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """Round to the cent the way an invoice does (half up), only ever for display."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: float | int | str | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    # str() first: Decimal(0.1) would carry the float's binary error into every sum.
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    reasoning_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    @classmethod
    def of(
        cls,
        input_per_mtok: float | str | Decimal,
        output_per_mtok: float | str | Decimal,
        cached_input_per_mtok: float | str | Decimal | None = None,
        reasoning_per_mtok: float | str | Decimal | None = None,
        cache_write_per_mtok: float | str | Decimal | None = None,
    ) -> Price:
        return cls(
            input_per_mtok=to_decimal(input_per_mtok) or ZERO,
            output_per_mtok=to_decimal(output_per_mtok) or ZERO,
            cached_input_per_mtok=to_decimal(cached_input_per_mtok),
            reasoning_per_mtok=to_decimal(reasoning_per_mtok),
            cache_write_per_mtok=to_decimal(cache_write_per_mtok),
        )


@dataclass(frozen=True, slots=True)
class Tokens:
    """A usage record outside the gateway (a log row, a what-if): same fields and meaning as `UsageLike`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0


class UsageLike(Protocol):
    # Read-only members: the gateway's mutable Usage and the frozen Tokens both fit.
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...
    @property
    def cache_creation_tokens(self) -> int: ...


def request_cost(price: Price, usage: UsageLike) -> Decimal:
    """Cost in USD. `prompt_tokens` includes cached ones and `completion_tokens` includes reasoning ones,
    as OpenAI reports them; each part is billed at its own rate where the model has one.
    `cache_creation_tokens` (Anthropic's cache writes) are reported apart from the prompt and billed on top."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_rate = (
        price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    )
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    reasoning_rate = (
        price.reasoning_per_mtok if price.reasoning_per_mtok is not None else price.output_per_mtok
    )
    write_rate = (
        price.cache_write_per_mtok if price.cache_write_per_mtok is not None else price.input_per_mtok
    )
    total = (
        (usage.prompt_tokens - cached) * price.input_per_mtok
        + cached * cached_rate
        + usage.cache_creation_tokens * write_rate
        + (usage.completion_tokens - reasoning) * price.output_per_mtok
        + reasoning * reasoning_rate
    )
    return total / MILLION


def tokens_cost(price: Price, prompt_tokens: int, completion_tokens: int) -> Decimal:
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / MILLION
