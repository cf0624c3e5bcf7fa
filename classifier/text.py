"""What text of a conversation the classifier looks at.

The embedder (all-MiniLM-L6-v2) could read 256 word pieces, but its cost grows faster than linearly with length:
on two CPU cores 256 pieces take ~40 ms, 128 pieces ~15 ms, 20 pieces ~3 ms (benchmarks/classifier.py). To keep
a routing decision within a few milliseconds the text handed to it is chosen and bounded here (~450 characters of
user text, ~110 pieces) rather than left to the tokenizer's tail truncation:

* The last user turn comes first and gets most of the budget: it is what the next answer must solve.
* A long turn keeps its head and its tail. The head usually states the task ("Summarise this contract..."), the
  tail usually carries the actual question after a pasted document ("...so what is x?"); the middle is mostly
  the pasted material, whose topic is already visible from both ends.
* The system prompt follows, short: it frames the task ("You are a tax lawyer") but is often boilerplate
  repeated on every request, so it must not crowd out the user turn.
* Then a bounded window of earlier turns, newest first, so a follow-up like "now prove it for n odd" is scored
  with what "it" refers to. Older context rarely changes how hard the next answer is.

Cheap features (features.py) are computed on the full last user turn, not the bounded text: counting code
fences or digits over a long prompt is cheap and the length itself is a signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Character budgets, ~4 characters per word piece; embed.MAX_TOKENS caps whatever still overflows.
USER_HEAD_CHARS = 300
USER_TAIL_CHARS = 150
SYSTEM_CHARS = 100
CONTEXT_CHARS = 160
CONTEXT_TURNS = 2
# Version of these rules; it is part of the artifact's compatibility key and of embedding-cache keys.
TEXT_VERSION = "text-v1"


def content_text(content: Any) -> str:
    """The text of an OpenAI message `content`: a string, or a list of parts of which text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return str(content)


def head_tail(text: str, head: int, tail: int) -> str:
    """`text` if it fits in head + tail characters, else its first `head` and last `tail` joined by an ellipsis."""
    text = text.strip()
    if len(text) <= head + tail:
        return text
    return f"{text[:head].rstrip()} ... {text[-tail:].lstrip()}"


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The full text of the last user turn (empty if there is none)."""
    last = ""
    for message in messages:
        if message.get("role") == "user":
            last = content_text(message.get("content"))
    return last


def conversation_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The bounded text embedded for a conversation (see the module docstring for why this shape)."""
    user_index = -1
    for index, message in enumerate(messages):
        if message.get("role") == "user":
            user_index = index
    if user_index < 0:
        # No user turn (an unusual but legal request): score whatever text there is, bounded.
        joined = "\n".join(content_text(m.get("content")) for m in messages)
        return head_tail(joined, USER_HEAD_CHARS, USER_TAIL_CHARS)
    pieces = [head_tail(content_text(messages[user_index].get("content")), USER_HEAD_CHARS, USER_TAIL_CHARS)]
    system = " ".join(
        content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    if system.strip():
        pieces.append("System: " + head_tail(system, SYSTEM_CHARS, 0))
    earlier = [
        m
        for m in messages[:user_index]
        if m.get("role") in ("user", "assistant") and content_text(m.get("content")).strip()
    ]
    for message in reversed(earlier[-CONTEXT_TURNS:]):
        text = head_tail(content_text(message.get("content")), CONTEXT_CHARS // 2, CONTEXT_CHARS // 2)
        pieces.append(f"{message.get('role')}: {text}")
    return "\n".join(pieces)


def prompt_messages(prompt: str) -> list[dict[str, Any]]:
    """A single-turn conversation for a data-set prompt, so training sees text exactly as serving builds it."""
    return [{"role": "user", "content": prompt}]
