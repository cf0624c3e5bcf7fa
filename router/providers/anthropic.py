"""Anthropic's Messages API (`POST {base_url}/messages`, `x-api-key`, `anthropic-version`).

Translation rules (OpenAI chat -> Anthropic), also summarised in the README:
- `system` and `developer` messages, wherever they stand, become the top-level `system` blocks in order.
- Consecutive turns of one role are merged into one turn (Anthropic wants user/assistant alternation);
  `tool` messages become `tool_result` blocks of a user turn, assistant `tool_calls` become `tool_use` blocks.
- Text parts stay text; `image_url` parts become image blocks (`data:` URLs as base64, others as URL sources).
  Audio and file parts are refused (400).
- `max_tokens` / `max_completion_tokens` -> `max_tokens`, defaulted to 8192 when absent (Anthropic requires it).
- `temperature` is clamped to Anthropic's 0..1; `top_p` passes on unless `temperature` is set too (recent Claude
  models refuse both; temperature wins); `stop` -> `stop_sequences`; `user` ->
  `metadata.user_id`; `parallel_tool_calls: false` -> `disable_parallel_tool_use`.
- `tools` -> `{name, description, input_schema}`; `tool_choice` auto/none/required/named -> auto/none/any/tool.
- `cache_control` marks (prompt-cache breakpoints, see cache_control.py) on content parts, tool messages, tool
  calls and tools are put back on the matching blocks.
- `response_format` json_schema / json_object is served through one forced tool (`json_response`) whose input is
  the JSON document; its call comes back as the message *content* with finish_reason `stop`.
- Refused with a 400 (the next candidate is tried): `n > 1`, `logprobs`/`top_logprobs`, audio output.
- Dropped (no equivalent, nothing the client reads depends on them): `seed`, `presence_penalty`,
  `frequency_penalty`, `logit_bias`, `metadata`, `store`, `service_tier`, `prediction`, and `reasoning_effort`:
  extended thinking is not switched on, because Claude requires its signed thinking blocks back on the next turn
  of a tool loop and OpenAI's message format has no place to carry them.
Responses: text + tool_use -> content + tool_calls; thinking blocks are not shown; stop_reason end_turn /
stop_sequence -> stop, max_tokens -> length, tool_use -> tool_calls, refusal -> content_filter. Usage:
prompt_tokens = input + cache read + cache write tokens (every input token), cached_tokens = cache read.
Errors: 429 and 5xx (529 overloaded included) are retried and fall back; when all attempts fail a 529 reaches
the client as 503; 401/403 become 502 in our own words; 400/404 are not retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from router.errors import UpstreamError
from router.providers.anthropic_stream import JSON_TOOL, AnthropicStreamTranslator, finish_reason_of, usage_of
from router.providers.base import Call, Decoded, forwarded_headers, malformed
from router.providers.cache_control import with_mark
from router.providers.openai_compat import upstream_error_from
from router.providers.openai_out import ToolCallOut, completion_body, usage_body
from router.providers.translate import (
    arguments_object,
    data_url,
    image_url_of,
    output_limit,
    refuse_openai_only,
    response_schema,
    stop_list,
    tool_result_text,
    untranslatable,
)
from router.settings import ProviderConfig
from router.upstream import UpstreamRequest
from router.wire import anthropic as wire

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192

_encoder = msgspec.json.Encoder()
_message_decoder = msgspec.json.Decoder(wire.Message)


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    url = image_url_of(part)
    inline = data_url(url)
    if inline is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any, provider_name: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append(with_mark({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            blocks.append(with_mark(_image_block(part), part))
        else:
            raise untranslatable(provider_name, f"content part type {kind!r} is not supported", "messages")
    return blocks


def _turn(message: dict[str, Any], provider_name: str) -> tuple[str, list[dict[str, Any]]]:
    role = message.get("role")
    if role == "tool":
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.get("tool_call_id") or "",
            "content": tool_result_text(message.get("content")),
        }
        return "user", [with_mark(block, message)]
    blocks = _blocks(message.get("content"), provider_name)
    if role == "assistant":
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            block = {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments_object(function.get("arguments", ""), provider_name),
            }
            blocks.append(with_mark(block, call))
        return "assistant", blocks
    return "user", blocks


def encode_messages(
    messages: list[dict[str, Any]], provider_name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating user/assistant turns)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") in ("system", "developer"):
            system.extend(_blocks(message.get("content"), provider_name))
            continue
        role, blocks = _turn(message, provider_name)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _tools(body: dict[str, Any], provider_name: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    tools = []
    for tool in body.get("tools") or ():
        function = tool.get("function") or {}
        spec: dict[str, Any] = {
            "name": function.get("name", ""),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        tools.append(with_mark(spec, tool))
    choice = body.get("tool_choice")
    mapped: dict[str, Any] | None = None
    if choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict):
        mapped = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    fmt = response_schema(body)
    if fmt is not None:
        if any(t["name"] == JSON_TOOL for t in tools):
            raise untranslatable(provider_name, f"a tool may not be named {JSON_TOOL!r}", "tools")
        schema = fmt[1] or {"type": "object"}
        tools.append(
            {
                "name": JSON_TOOL,
                "description": "Give the final answer as a JSON document matching this schema.",
                "input_schema": schema,
            }
        )
        if mapped is None or mapped["type"] in ("any", "none") or not tools[:-1]:
            # Without other tools (or when a tool call was not asked for) the answer *is* the JSON tool.
            mapped = {"type": "tool", "name": JSON_TOOL}
    if body.get("parallel_tool_calls") is False and tools:
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    return tools, mapped


def encode_body(call: Call, provider_name: str) -> dict[str, Any]:
    body = call.body
    refuse_openai_only(body, provider_name)
    system, turns = encode_messages(body.get("messages") or [], provider_name)
    out: dict[str, Any] = {
        "model": call.upstream_model,
        "messages": turns,
        "max_tokens": output_limit(body) or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = system
    stop = stop_list(body.get("stop"))
    if stop:
        out["stop_sequences"] = stop
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)):
        out["temperature"] = min(float(temperature), 1.0)
    if isinstance(body.get("top_p"), (int, float)) and "temperature" not in out:
        # Recent Claude models refuse temperature and top_p together; temperature is the common knob.
        out["top_p"] = body["top_p"]
    tools, choice = _tools(body, provider_name)
    if tools:
        out["tools"] = tools
    if choice is not None:
        out["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if call.stream:
        out["stream"] = True
    return out


def decode_message(message: wire.Message, call: Call) -> Decoded:
    texts: list[str] = []
    calls: list[ToolCallOut] = []
    json_answer = False
    for block in message.content:
        if block.type == "text" and block.text is not None:
            texts.append(block.text)
        elif block.type == "tool_use":
            arguments = json.dumps(block.input if block.input is not None else {}, separators=(",", ":"))
            if block.name == JSON_TOOL and response_schema(call.body) is not None:
                texts.append(arguments)
                json_answer = True
            else:
                calls.append(ToolCallOut(block.id or "", block.name or "", arguments))
    finish = finish_reason_of(message.stop_reason)
    if json_answer and not calls:
        finish = "stop"
    text = "".join(texts) if texts else None
    usage, prompt_total = usage_of(message.usage)
    body = completion_body(
        completion_id=f"chatcmpl-{message.id}",
        model=message.model,
        text=text,
        tool_calls=calls,
        finish_reason=finish,
        usage=usage_body(usage, prompt_total),
    )
    return Decoded(body=body, usage=usage if message.usage is not None else None, completion_text=text)


def map_anthropic_error(
    status: int, headers: Mapping[str, str], body: bytes, provider_name: str
) -> UpstreamError:
    error = upstream_error_from(status, headers, body, provider_name)
    if status == 529:
        # Overloaded: worth another try and another provider; if every attempt fails the client sees 503
        # (gateway_status_for), named as Anthropic names it.
        error.code = "overloaded"
        error.error_type = "upstream_overloaded"
    return error


class AnthropicAdapter:
    kind = "anthropic"

    def encode_request(self, call: Call, provider: ProviderConfig) -> UpstreamRequest:
        body = encode_body(call, self.kind)
        headers = {
            "content-type": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            "x-request-id": call.request_id,
            **provider.headers,
        }
        key = provider.api_key()
        if key:
            headers["x-api-key"] = key
        headers.update(forwarded_headers("anthropic", call.extra_headers))
        return UpstreamRequest(
            url=provider.base_url.rstrip("/") + "/messages", headers=headers, body=_encoder.encode(body)
        )

    def decode_response(self, body: bytes, call: Call, provider_name: str) -> Decoded:
        try:
            message = _message_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise malformed(provider_name) from None
        return decode_message(message, call)

    def stream_translator(self, call: Call, provider_name: str) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator(call, provider_name)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError:
        return map_anthropic_error(status, headers, body, provider_name)
