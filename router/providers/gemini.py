"""Google Gemini API (`models/{m}:generateContent`, `:streamGenerateContent?alt=sse`, `x-goog-api-key`).

Translation rules (OpenAI chat -> Gemini), also summarised in the README:
- `system` / `developer` messages become `systemInstruction` parts in order; roles user -> `user`,
  assistant -> `model`; consecutive turns of one role are merged.
- Text parts -> `text`; `image_url` -> `inlineData` (`data:` URLs) or `fileData` (other URLs, MIME type from the
  extension). Audio and file parts are refused (400).
- Assistant `tool_calls` -> `functionCall` parts; `tool` messages -> `functionResponse` parts of a user turn, the
  function name taken from the assistant call with that id; a JSON-object result is sent as is, anything else as
  `{"content": <text>}`. Gemini returns no call ids, so the gateway makes them (`call_<hash>`).
- `tools` -> one `functionDeclarations` list; `tool_choice` auto/none/required/named -> `toolConfig`
  AUTO/NONE/ANY/ANY with `allowedFunctionNames`. Schemas are converted (see gemini_schema.py).
- generationConfig: temperature, top_p -> topP, max_tokens -> maxOutputTokens, stop -> stopSequences, seed,
  presence/frequency penalties; `response_format` json_object / json_schema -> responseMimeType
  `application/json` (+ responseSchema); `reasoning_effort` -> thinkingConfig.thinkingBudget (none/minimal 512,
  low 1024, medium 8192, high 24576 tokens).
- Refused with a 400 (the next candidate is tried): `n > 1`, `logprobs`, audio output.
- Dropped: `logit_bias`, `parallel_tool_calls`, `user`, `metadata`, `store`, `service_tier`.
Responses: text parts (not `thought` parts) -> content; functionCall -> tool_calls (finish `tool_calls`);
finishReason STOP -> stop, MAX_TOKENS -> length, SAFETY / RECITATION / BLOCKLIST / PROHIBITED_CONTENT / SPII /
IMAGE_SAFETY / LANGUAGE -> content_filter, other -> stop. A prompt blocked outright (`promptFeedback.blockReason`)
is a 400 `content_blocked` error naming the reason. Usage: promptTokenCount -> prompt_tokens (cachedContentTokenCount
-> cached_tokens), candidates + thoughts -> completion_tokens (thoughts -> reasoning_tokens).
Errors: 429 RESOURCE_EXHAUSTED (RetryInfo delay honoured) and 5xx are retried and fall back; an invalid API key
(Gemini answers 400 API_KEY_INVALID) is treated like 401: 502 in our own words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from router.errors import UpstreamError
from router.providers.base import Call, Decoded, forwarded_headers, malformed
from router.providers.gemini_schema import checked
from router.providers.gemini_stream import (
    NAME,
    GeminiStreamTranslator,
    blocked_error,
    call_id,
    finish_reason_of,
    usage_of,
)
from router.providers.openai_compat import upstream_error_from
from router.providers.openai_out import ToolCallOut, completion_body, usage_body
from router.providers.translate import (
    arguments_object,
    data_url,
    guess_image_type,
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

_encoder = msgspec.json.Encoder()
_decode = msgspec.json.Decoder().decode


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            url = image_url_of(part)
            inline = data_url(url)
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
            else:
                parts.append({"fileData": {"mimeType": guess_image_type(url), "fileUri": url}})
        else:
            raise untranslatable(NAME, f"content part type {kind!r} is not supported", "messages")
    return parts


def _function_response(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    call = str(message.get("tool_call_id") or "")
    if call not in names:
        raise untranslatable(
            NAME, f"tool message {call!r} answers no earlier assistant tool call", "messages"
        )
    text = tool_result_text(message.get("content"))
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    response = value if isinstance(value, dict) else {"content": text}
    return {"functionResponse": {"name": names[call], "response": response}}


def encode_contents(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents)."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the responses that follow
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content")))
            continue
        if role == "tool":
            turn, parts = "user", [_function_response(message, names)]
        else:
            turn, parts = ("model" if role == "assistant" else "user"), _parts(message.get("content"))
            for call in message.get("tool_calls") or () if role == "assistant" else ():
                function = call.get("function") or {}
                names[str(call.get("id", ""))] = function.get("name", "")
                args = arguments_object(function.get("arguments", ""), NAME)
                parts.append({"functionCall": {"name": function.get("name", ""), "args": args}})
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    return system, contents


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name", "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


# reasoning_effort -> thinking budget in tokens. 512 is the least every Gemini 2.5 model accepts (Pro cannot
# switch thinking off, Flash-Lite's floor is 512), so "none" and "minimal" mean "as little as the model allows".
_THINKING_BUDGETS = {"none": 512, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for source, target in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if isinstance(body.get(source), (int, float)):
            config[target] = body[source]
    limit = output_limit(body)
    if limit is not None:
        config["maxOutputTokens"] = limit
    budget = _THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    stop = stop_list(body.get("stop"))
    if stop:
        config["stopSequences"] = stop
    fmt = response_schema(body)
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt[1] is not None:
            config["responseSchema"] = checked(fmt[1], "response_format")
    return config


def encode_body(body: dict[str, Any]) -> dict[str, Any]:
    refuse_openai_only(body, NAME)
    system, contents = encode_contents(body.get("messages") or [])
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    declarations = []
    for tool in body.get("tools") or ():
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {"name": function.get("name", "")}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = function.get("parameters")
        if isinstance(parameters, dict) and parameters.get("properties"):
            declaration["parameters"] = checked(parameters, "tools")
        declarations.append(declaration)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
        tool_config = _tool_config(body.get("tool_choice"))
        if tool_config is not None:
            out["toolConfig"] = tool_config
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


def decode_body(payload: Any, provider_name: str) -> Decoded:
    if not isinstance(payload, dict):
        raise malformed(provider_name)
    candidates = payload.get("candidates") or []
    if not candidates:
        blocked = blocked_error(payload.get("promptFeedback"))
        if blocked is not None:
            raise blocked
    candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    response_id = str(payload.get("responseId") or "")
    texts: list[str] = []
    calls: list[ToolCallOut] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            function = part["functionCall"]
            name = str(function.get("name", ""))
            arguments = json.dumps(function.get("args") or {}, separators=(",", ":"))
            calls.append(
                ToolCallOut(function.get("id") or call_id(response_id, len(calls), name), name, arguments)
            )
    text = "".join(texts) if texts else None
    usage = usage_of(payload.get("usageMetadata"))
    body = completion_body(
        completion_id=f"chatcmpl-{response_id}" if response_id else "chatcmpl-gemini",
        model=str(payload.get("modelVersion") or ""),
        text=text,
        tool_calls=calls,
        finish_reason=finish_reason_of(candidate.get("finishReason"), bool(calls)),
        usage=usage_body(usage) if usage is not None else None,
    )
    return Decoded(body=body, usage=usage, completion_text=text)


def _retry_delay(body: bytes) -> float | None:
    """google.rpc.RetryInfo `retryDelay` ("30s") from an error body's details."""
    try:
        details = _decode(body)["error"]["details"]
    except (msgspec.DecodeError, KeyError, TypeError):
        return None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def map_gemini_error(
    status: int, headers: Mapping[str, str], body: bytes, provider_name: str
) -> UpstreamError:
    if status == 400 and b"API_KEY_INVALID" in body:
        status = 401  # Gemini reports a bad key as a 400; it is our credentials, not the client's request.
    lowered = {key.lower(): value for key, value in headers.items()}
    if status == 429 and "retry-after" not in lowered:
        delay = _retry_delay(body)
        if delay is not None:
            lowered["retry-after"] = str(delay)
    return upstream_error_from(status, lowered, body, provider_name)


class GeminiAdapter:
    kind = "gemini"

    def encode_request(self, call: Call, provider: ProviderConfig) -> UpstreamRequest:
        body = encode_body(call.body)
        headers = {"content-type": "application/json", "x-request-id": call.request_id, **provider.headers}
        key = provider.api_key()
        if key:
            headers["x-goog-api-key"] = key
        headers.update(forwarded_headers("gemini", call.extra_headers))
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        url = f"{provider.base_url.rstrip('/')}/models/{call.upstream_model}:{method}"
        return UpstreamRequest(url=url, headers=headers, body=_encoder.encode(body))

    def decode_response(self, body: bytes, call: Call, provider_name: str) -> Decoded:
        try:
            payload = _decode(body)
        except msgspec.DecodeError:
            payload = None
        return decode_body(payload, provider_name)

    def stream_translator(self, call: Call, provider_name: str) -> GeminiStreamTranslator:
        return GeminiStreamTranslator(call, provider_name)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError:
        return map_gemini_error(status, headers, body, provider_name)
