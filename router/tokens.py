"""Local token estimates (no tokenizer download is possible here).

BPE tokenizers average about four characters of English per token and split
punctuation and digits finely; counting word pieces plus punctuation lands
within ~10-15% of cl100k on ordinary prose and code. Used only where a provider
reports no usage (the cost is then marked estimated) and for the policy's
context-window check.
"""

from __future__ import annotations

import re
from typing import Any

_PIECES = re.compile(r"[A-Za-z]{1,4}|\d{1,3}|[^\sA-Za-z\d]|\s+(?=\S)")


def _class_table(mapping: dict[str, bytes], default: bytes) -> bytes:
    return bytes((mapping.get(chr(byte), default))[0] for byte in range(256))


_WHITESPACE = {chr(byte): b" " for byte in range(128) if chr(byte).isspace()}
_LETTERS = {c: b"a" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_DIGITS = {c: b"d" for c in "0123456789"}
# ASCII byte -> its class in _PIECES: letter "a", digit "d", whitespace " ", anything else "."
_CLASSES = _class_table({**_WHITESPACE, **_LETTERS, **_DIGITS}, b".")
_ONLY_LETTERS = _class_table({"a": b"a"}, b" ")  # class bytes -> letter runs between spaces
_ONLY_DIGITS = _class_table({"d": b"d"}, b" ")
_SPACE_OR_NOT = _class_table({" ": b" "}, b"x")


def _ascii_pieces(text: str) -> int:
    """`len(_PIECES.findall(text))` for ASCII text by a few passes of bytes methods: ~20x faster on a long prompt
    (a 2,000-token prompt took ~0.3 ms of the event loop by regex). A letter run of L counts ceil(L / 4): padded
    with three letters, it holds (L + 3) // 4 non-overlapping "aaaa"; digits likewise by three."""
    classes = text.encode("ascii").translate(_CLASSES)
    # a whitespace run counts when a non-space follows it: its last space is then followed by one
    spaces = classes.translate(_SPACE_OR_NOT).count(b" x")
    letters = (classes.translate(_ONLY_LETTERS) + b" ").replace(b"a ", b"aaaa ").count(b"aaaa")
    digits = (classes.translate(_ONLY_DIGITS) + b" ").replace(b"d ", b"ddd ").count(b"ddd")
    return letters + digits + classes.count(b".") + spaces


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    if len(text) > 20_000:
        return len(text) // 4
    return _ascii_pieces(text) if text.isascii() else len(_PIECES.findall(text))


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 3
    for message in messages:
        total += 4 + estimate_text_tokens(content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += estimate_text_tokens(str(function.get("name", ""))) + estimate_text_tokens(
                str(function.get("arguments", ""))
            )
        content = message.get("content")
        if isinstance(content, list):
            total += 85 * sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return total
