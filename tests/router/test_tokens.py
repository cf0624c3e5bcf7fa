"""The local token estimate: the ASCII fast path counts exactly what the regex counts."""

from __future__ import annotations

import random

from router.tokens import _PIECES, estimate_prompt_tokens, estimate_text_tokens


def _by_regex(text: str) -> int:
    return len(_PIECES.findall(text))


def test_ascii_fast_path_counts_what_the_regex_counts() -> None:
    rng = random.Random(20261128)
    every_ascii = [chr(code) for code in range(128)]
    prose = list("Hello world, 1234567 times: a bb ccc dddd eeeee\t\n  \x1c\x1f\x0b!? 9 99 999 9999")
    for index in range(20_000):
        pool = every_ascii if index % 2 else prose
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 60)))
        assert estimate_text_tokens(text) == _by_regex(text), repr(text)
    for text in ("a", " ", "  x", "x  ", "abcd", "abcde", "123", "1234", "a1b2", "\t\n", "...", " a b "):
        assert estimate_text_tokens(text) == _by_regex(text), repr(text)


def test_other_text_is_counted_by_the_regex_and_the_prompt_adds_message_overhead() -> None:
    text = "naïve café — 東京 2026"
    assert estimate_text_tokens(text) == _by_regex(text)
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("x" * 20_001) == 5_000  # long text: a quarter of its length
    messages = [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
    ]
    assert estimate_prompt_tokens(messages) == 3 + 4 + _by_regex("Hello there") + 4 + _by_regex("Hi")
