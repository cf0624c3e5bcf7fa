"""The exposition format itself: label escaping, cumulative buckets, exact decimal sums."""

from __future__ import annotations

from decimal import Decimal

from router.metrics import Counter, Histogram


def test_label_values_are_escaped() -> None:
    counter = Counter("t_total", "help", ("model",))
    counter.inc(('we"ird\\name\nx',), 2)
    assert list(counter.render())[-1] == 't_total{model="we\\"ird\\\\name\\nx"} 2'


def test_histogram_buckets_are_cumulative_and_le_inclusive() -> None:
    histogram = Histogram("h_seconds", "help", ("m",), buckets=(0.1, 1.0))
    for sample in (0.05, 0.1, 0.5, 1.0, 3.0):
        histogram.observe(("a",), sample)
    lines = list(histogram.render())[2:]
    assert lines == [
        'h_seconds_bucket{m="a",le="0.1"} 2',
        'h_seconds_bucket{m="a",le="1"} 4',
        'h_seconds_bucket{m="a",le="+Inf"} 5',
        'h_seconds_sum{m="a"} 4.65',
        'h_seconds_count{m="a"} 5',
    ]


def test_money_sums_stay_exact() -> None:
    counter = Counter("c_usd_total", "help")
    for _ in range(10):
        counter.inc((), Decimal("0.1"))
    counter.inc((), Decimal("0.0000000001"))
    assert list(counter.render())[-1] == "c_usd_total 1.0000000001"
