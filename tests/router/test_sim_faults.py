"""The sim's attempt book: what `/_sim/attempts` answers from, and how much of it a run keeps."""

from __future__ import annotations

from router.sim.faults import FaultBook


def test_attempts_are_kept_up_to_the_limit_then_the_older_half_goes() -> None:
    book = FaultBook(max_attempts_kept=4)
    for index in range(5):
        book.record(f"req-{index}", "openai", "openai", "gpt-4o-mini", 200, False, None)
    assert [a.request_id for a in book.attempts] == ["req-2", "req-3", "req-4"]
    assert all(a.status == 200 and a.ended_at is not None for a in book.attempts)


def test_a_book_that_keeps_none_still_answers_each_attempt() -> None:
    """`tiergate sim --keep-attempts 0` (the benchmarks' sim): nothing piles up over a long run."""
    book = FaultBook(max_attempts_kept=0)
    record = book.begin("req-1", "openai", "openai", "gpt-4o-mini", False)
    book.record("req-2", "openai", "openai", "gpt-4o-mini", 200, False, None)
    assert record.request_id == "req-1" and book.attempts == []
