"""What the overhead benchmark sends: request bodies and the scenario matrix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from router.tokens import estimate_text_tokens

MODEL = "gpt-4o-mini"
# 18 answer words: a stream is the role chunk, 18 content chunks and the finish chunk = 20 chunks.
ANSWER_WORDS = 18
DISTINCT_MARKER = "@N@"

_FILLER_TEXT = (
    "Please review the quarterly report for the northern region and list the three largest changes in revenue, "
    "explaining briefly which product lines drove each one and whether the trend is likely to continue next "
    "quarter given the pipeline, pricing changes, staffing and the seasonal effects we saw last year in sales"
)
_FILLER = _FILLER_TEXT.split(" ")


def prompt_of(tokens: int, distinct: bool) -> str:
    """A plain-English prompt of about `tokens` tokens (router.tokens' estimate)."""
    words: list[str] = [f"Request {DISTINCT_MARKER}:"] if distinct else []
    at = 0
    while estimate_text_tokens(" ".join(words)) < tokens:
        words.append(_FILLER[at % len(_FILLER)])
        at += 1
    return " ".join(words)


def body_of(model: str, prompt: str, stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": ANSWER_WORDS,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    model: str
    stream: bool
    prompt_tokens: int
    distinct: bool
    concurrencies: tuple[int, ...]
    targets: tuple[str, ...]

    def body_file(self, workdir: Path) -> Path:
        path = workdir / f"body-{self.name}.json"
        if not path.exists():
            prompt = prompt_of(self.prompt_tokens, self.distinct)
            path.write_bytes(body_of(self.model, prompt, self.stream))
        return path


ALL_TARGETS = ("direct", "floor", "tiergate", "litellm")


def scenarios(concurrencies: tuple[int, ...]) -> list[Scenario]:
    low = tuple(c for c in concurrencies if c <= 1) or concurrencies[:1]
    high = tuple(c for c in concurrencies if c == 64) or concurrencies[-1:]
    return [
        Scenario(
            "chat", "explicit model, non-streaming", MODEL, False, 20, False, concurrencies, ALL_TARGETS
        ),
        Scenario(
            "stream",
            "explicit model, streaming (20 chunks)",
            MODEL,
            True,
            20,
            False,
            concurrencies,
            ALL_TARGETS,
        ),
        Scenario(
            "auto20",
            "`auto`, 20-token prompts, all distinct",
            "auto",
            False,
            20,
            True,
            (*low, *high),
            ("direct", "tiergate"),
        ),
        Scenario(
            "auto256",
            "`auto`, 256-token prompts, all distinct",
            "auto",
            False,
            256,
            True,
            low,
            ("direct", "tiergate"),
        ),
        Scenario(
            "autostream",
            "`auto`, streaming, one 20-token prompt",
            "auto",
            True,
            20,
            False,
            tuple(c for c in concurrencies if c == 16) or low,
            ("direct", "tiergate"),
        ),
    ]


SLOW_STREAM_MATCH = "slowstream"
SLOW_STREAM_CHUNK_MS = 2.0


def slow_stream_body(workdir: Path) -> Path:
    """A stream the sim paces at 2 ms a chunk (a fault rule matching this prompt): does the first byte leave
    before the upstream finishes?"""
    path = workdir / "body-slowstream.json"
    path.write_bytes(body_of(MODEL, f"{SLOW_STREAM_MATCH}: {prompt_of(20, False)}", True))
    return path
