"""The dashboard keeps a report only when it was slow to build; small logs always show live figures."""

from __future__ import annotations

from router.console.dashboard import ReportCache


def test_fast_reports_are_never_kept() -> None:
    cache = ReportCache(slow_s=1.0, ttl_s=60)
    cache.put(("7d", "", "gpt-4o", "same"), (None, [], "x"), took_s=0.2)
    assert cache.get(("7d", "", "gpt-4o", "same")) is None


def test_slow_reports_are_kept_for_the_ttl_and_bounded() -> None:
    cache = ReportCache(slow_s=1.0, ttl_s=60, size=2)
    cache.put(("a",), (None, ["k"], ""), took_s=3.0)
    assert cache.get(("a",)) == (None, ["k"], "")
    age = cache.age(("a",))
    assert age is not None and age >= 0
    cache.put(("b",), (None, [], ""), took_s=3.0)
    cache.put(("c",), (None, [], ""), took_s=3.0)
    assert cache.get(("a",)) is None and cache.get(("c",)) is not None  # oldest evicted
    expired = ReportCache(slow_s=0.0, ttl_s=-1)
    expired.put(("a",), (None, [], ""), took_s=0.0)
    assert expired.get(("a",)) is None
