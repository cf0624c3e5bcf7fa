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


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    if len(text) > 20_000:
        return len(text) // 4
    return len(_PIECES.findall(text))


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
