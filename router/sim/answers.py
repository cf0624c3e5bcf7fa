"""Deterministic model behaviour shared by every simulated dialect.

Answers are a pure function of the prompt: the same request always gets the same
text, and its length grows with the prompt, so cost and routing figures are
reproducible. Tools get a call with arguments valid for their schema; after a
tool result the answer is text; a JSON schema gets a document valid for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

_WORDS = [
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "model",
    "that",
    "answers",
    "well",
    "at",
    "the",
    "lowest",
    "cost",
    "while",
    "keeping",
    "quality",
    "high",
    "for",
    "simple",
    "questions",
    "small",
    "models",
    "suffice",
    "and",
    "for",
    "hard",
    "reasoning",
    "the",
    "strong",
    "model",
    "is",
    "chosen",
    "so",
    "a",
    "team",
    "saves",
    "money",
    "without",
    "losing",
    "accuracy",
    "every",
    "outcome",
    "is",
    "logged",
    "and",
    "measured",
]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif isinstance(part.get("content"), str):
                    parts.append(part["content"])
        return " ".join(parts)
    return ""


def count_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def answer_words(prompt: str, model: str) -> list[str]:
    """12 + 1.5 words per prompt word (capped at 400), drawn by a hash of prompt and model."""
    digest = hashlib.sha256(f"{model}\x00{prompt}".encode()).digest()
    n = min(400, 12 + (len(prompt.split()) * 3) // 2)
    return [_WORDS[(digest[i % 32] + i * 7) % len(_WORDS)] for i in range(n)]


_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A local `$ref` (`#/$defs/X`, as pydantic writes nested models) looked up in the root schema."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1 if integer else 1.5
    if low is not None:
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    elif high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    return int(value) if integer else float(value)


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(str(schema.get("format")), "sample")
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    return text[: int(high)] if high is not None else text


def example_for_schema(schema: Any, depth: int = 0, root: Any = None) -> Any:
    """A value valid for a (JSON Schema) `schema`: enough for tool arguments and structured output
    (local `$ref`s, `allOf` merges, numeric bounds, string lengths and common formats included)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return "sample"
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("allOf"):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, root) if isinstance(part, dict) else {}
            merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
            merged.update({k: v for k, v in part.items() if k != "properties"})
        return example_for_schema(merged, depth + 1, root)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")]
            return example_for_schema((options or schema[key])[0], depth + 1, root)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example_for_schema(sub, depth + 1, root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        return [example_for_schema(schema.get("items", {}), depth + 1, root) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


@dataclass(frozen=True)
class ToolChoice:
    name: str
    arguments: str
    call_id: str


@dataclass(frozen=True)
class Reply:
    """What the simulated model says, before any dialect shapes it."""

    text: str | None
    tool_calls: tuple[ToolChoice, ...]
    finish: str  # "stop" | "length" | "tool_calls"
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int


# The sim's quality world: a weak answer opens with HEDGE; a grading prompt (JUDGE_MARKER) gets a low
# grade for such a candidate and a high one otherwise, so shadow evaluation can be exercised end to end.
HEDGE = "I am not sure."
JUDGE_MARKER = "Grade the candidate answer"


def judge_grade(prompt: str) -> str:
    candidate = prompt.split("Candidate answer:", 1)[-1].lstrip()
    return "2" if candidate.startswith(HEDGE) else "10"


def hedged(r: Reply) -> Reply:
    if r.text is None or r.tool_calls:
        return r
    return Reply(
        f"{HEDGE} {r.text}",
        r.tool_calls,
        r.finish,
        r.prompt_tokens,
        r.completion_tokens + 4,
        r.reasoning_tokens,
    )


def reply(
    *,
    model: str,
    prompt: str,
    prompt_chars: int,
    last_is_tool_result: bool,
    tools: list[tuple[str, dict[str, Any]]],
    forced_tool: str | None,
    tools_allowed: bool,
    json_schema: dict[str, Any] | None,
    json_object: bool,
    max_tokens: int | None,
    stop: list[str],
) -> Reply:
    prompt_tokens = max(1, (prompt_chars + 3) // 4) + 3
    reasoning_tokens = 0
    if JUDGE_MARKER in prompt:
        grade = judge_grade(prompt)
        return Reply(grade, (), "stop", prompt_tokens, 1, 0)
    if tools and tools_allowed and not last_is_tool_result:
        chosen = next((t for t in tools if t[0] == forced_tool), tools[0])
        arguments = json.dumps(example_for_schema(chosen[1]), separators=(",", ":"))
        call_id = "call_" + hashlib.sha256(f"{prompt}{chosen[0]}".encode()).hexdigest()[:24]
        calls = (ToolChoice(chosen[0], arguments, call_id),)
        return Reply(None, calls, "tool_calls", prompt_tokens, count_tokens(arguments) + 8, 0)
    if json_schema is not None:
        text = json.dumps(example_for_schema(json_schema), separators=(",", ":"))
        return Reply(text, (), "stop", prompt_tokens, count_tokens(text), 0)
    if json_object:
        text = json.dumps({"answer": " ".join(answer_words(prompt, model)[:8])})
        return Reply(text, (), "stop", prompt_tokens, count_tokens(text), 0)
    words = answer_words(prompt, model)
    finish = "stop"
    if max_tokens is not None and len(words) > max_tokens:
        words, finish = words[:max_tokens], "length"
    text = " ".join(words)
    for sequence in stop:
        at = text.find(sequence) if sequence else -1
        if at >= 0:
            text, finish = text[:at], "stop"
    if "r1" in model or "reason" in model:
        reasoning_tokens = 2 * len(words)
    return Reply(text, (), finish, prompt_tokens, len(text.split()) + reasoning_tokens, reasoning_tokens)
