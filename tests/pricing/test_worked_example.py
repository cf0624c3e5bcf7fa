"""The seed's worked example: 10M input + 5M output tokens a day, 60/30/10 across DeepSeek-V3, GPT-4o and
DeepSeek-R1, against all of it on GPT-4o.

At the seed's prices (V3 $0.27/$1.10, GPT-4o $2.50/$10.00, R1 $0.55/$2.19 per 1M, which is also what the
shipped catalog holds for those three) the arithmetic is:

    all GPT-4o   10M x 2.50 + 5M x 10.00                        = 25.00 + 50.00          = $75.00
    routed  V3   6M x 0.27 + 3M x 1.10                          =  1.62 +  3.30          =  $4.92
            4o   3M x 2.50 + 1.5M x 10.00                       =  7.50 + 15.00          = $22.50
            R1   1M x 0.55 + 0.5M x 2.19                        =  0.55 +  1.095         =  $1.645
                                                                                  total = $29.065

So routing costs $29.065 a day: $29.07 to the cent, 61.25% (61%) less. The seed's "$29.04" is 2.5 cents
lower than its own prices give (it would need R1 output at $2.14); this test holds the exact figure.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from pricing.catalog import shipped_catalog
from pricing.cost import Tokens, cents, request_cost
from pricing.logrows import LogRow
from pricing.report import build_report
from router.cli import main

DAY_IN, DAY_OUT = 10_000_000, 5_000_000
SPLIT = {"deepseek/deepseek-v3": 60, "openai/gpt-4o": 30, "deepseek/deepseek-r1": 10}


def test_seed_prices_are_the_catalog_prices() -> None:
    catalog = shipped_catalog()
    expected = {
        "deepseek/deepseek-v3": ("0.27", "1.1"),
        "openai/gpt-4o": ("2.5", "10"),
        "deepseek/deepseek-r1": ("0.55", "2.19"),
    }
    for key, (inp, out) in expected.items():
        entry = catalog.get(key)
        assert entry is not None and (entry.input, entry.output) == (inp, out)


def _day_rows() -> list[LogRow]:
    catalog = shipped_catalog()
    now = datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC)
    rows = []
    for i, (key, share) in enumerate(SPLIT.items()):
        entry = catalog.get(key)
        assert entry is not None
        tokens = Tokens(DAY_IN * share // 100, DAY_OUT * share // 100)
        rows.append(
            LogRow(
                id=f"day-{i}",
                created_at=now,
                key_id=None,
                tier=None,
                tier_source="explicit",
                model=key,
                status="ok",
                difficulty=None,
                reasoning=None,
                streamed=False,
                tokens=tokens,
                cost_usd=request_cost(entry.price, tokens),
                cost_estimated=False,
                cost_saved_usd=Decimal(0),
                cache_hit=False,
                latency_ms=None,
            )
        )
    return rows


def test_worked_example_to_the_cent() -> None:
    rows = _day_rows()
    assert [r.cost_usd for r in rows] == [Decimal("4.92"), Decimal("22.5"), Decimal("1.645")]
    gpt_4o = shipped_catalog().get("openai/gpt-4o")
    assert gpt_4o is not None
    report = build_report(rows, "gpt-4o", gpt_4o.price, group_by="model")
    total = report.total
    assert total.baseline == Decimal("75.00")
    assert total.actual == Decimal("29.065")
    assert cents(total.actual) == Decimal("29.07")
    assert total.saved == Decimal("45.935")
    assert total.saved_pct == Decimal("61.24666666666666666666666667")
    assert round(total.saved_pct) == 61
    # The seed's printed figure, for the record: 2.5 cents under what its prices give.
    assert total.actual - Decimal("29.04") == Decimal("0.025")


def test_compare_command_prints_the_baseline_day(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["pricing", "compare", "--input-tokens", "10000000", "--output-tokens", "5000000", "--limit", "0"]
        )
        == 0
    )
    lines = {
        line.split()[1]: line.split()[2] for line in capsys.readouterr().out.splitlines()[2:] if "/" in line
    }
    assert lines["openai/gpt-4o"] == "75.00"
    # The whole day on one model: V3 10M x 0.27 + 5M x 1.10; R1 10M x 0.55 + 5M x 2.19.
    assert lines["deepseek/deepseek-v3"] == "8.20" and lines["deepseek/deepseek-r1"] == "16.45"
    monthly = main(
        [
            "pricing",
            "compare",
            "--input-tokens",
            "10000000",
            "--output-tokens",
            "5000000",
            "--per",
            "month",
            "--provider",
            "openai",
            "--limit",
            "0",
        ]
    )
    assert monthly == 0
    out = capsys.readouterr().out
    assert "openai/gpt-4o " in out and "2,250.00" in out  # 75.00 x 30 days
