"""Cost of one request for every usage shape, against figures worked by hand (USD, prices per 1M tokens)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing.cost import Price, Tokens, cents, request_cost, tokens_cost

GPT_4O = Price.of("2.50", "10.00", cached_input_per_mtok="1.25")
R1 = Price.of("0.55", "2.19", cached_input_per_mtok="0.14")
SONNET = Price.of("3", "15", cached_input_per_mtok="0.30", cache_write_per_mtok="3.75")
# A model that bills thinking at its own rate (hypothetical figures, chosen to make the parts visible).
THINKER = Price.of("0.30", "2.50", reasoning_per_mtok="3.50")


@pytest.mark.parametrize(
    ("price", "usage", "expected"),
    [
        # 1000 in x 2.50 + 500 out x 10.00 = 2500 + 5000 = 7500 per 1M
        (GPT_4O, Tokens(1000, 500), "0.0075"),
        # 600 uncached x 2.50 + 400 cached x 1.25 + 500 out x 10 = 1500 + 500 + 5000
        (GPT_4O, Tokens(1000, 500, cached_tokens=400), "0.007"),
        # reasoning without its own rate is output: 100 x 0.55 + 300 x 2.19 = 55 + 657
        (R1, Tokens(100, 300, reasoning_tokens=250), "0.000712"),
        # reasoning at its own rate: 200 x 0.30 + 200 visible x 2.50 + 800 thinking x 3.50 = 60 + 500 + 2800
        (THINKER, Tokens(200, 1000, reasoning_tokens=800), "0.00336"),
        # Anthropic-style: 500 x 3 + 1500 cache reads x 0.30 + 1000 cache writes x 3.75 + 200 x 15
        (SONNET, Tokens(2000, 200, cached_tokens=1500, cache_creation_tokens=1000), "0.0087"),
        # cache writes with no write price are billed as input: 100 x 2.50 + 100 x 2.50 + 10 x 10
        (GPT_4O, Tokens(100, 10, cache_creation_tokens=100), "0.0006"),
        # cached tokens beyond the prompt are capped at the prompt: 50 x 1.25 + 0 out
        (GPT_4O, Tokens(50, 0, cached_tokens=80), "0.0000625"),
        # reasoning beyond the completion is capped likewise: 20 x 3.50
        (THINKER, Tokens(0, 20, reasoning_tokens=99), "0.00007"),
        (GPT_4O, Tokens(), "0"),
    ],
)
def test_usage_shapes(price: Price, usage: Tokens, expected: str) -> None:
    assert request_cost(price, usage) == Decimal(expected)


def test_all_decimal_no_float_drift() -> None:
    """A million one-token requests at $0.10 per 1M add to exactly $0.10, not 0.09999999999."""
    price = Price.of(0.1, 0)
    one = request_cost(price, Tokens(1, 0))
    assert one == Decimal("0.0000001")
    assert sum((one for _ in range(1_000_000)), Decimal(0)) == Decimal("0.1")
    assert price.input_per_mtok == Decimal("0.1")  # from the float's text, not its binary value


def test_tokens_cost_and_cents() -> None:
    assert tokens_cost(GPT_4O, 10_000_000, 5_000_000) == Decimal("75")
    assert cents(Decimal("29.065")) == Decimal("29.07")  # half up, as an invoice rounds
    assert cents(Decimal("0.004999")) == Decimal("0.00")
