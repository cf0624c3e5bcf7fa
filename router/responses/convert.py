"""Responses API <-> OpenAI chat: the request becomes a chat body, the chat answer becomes a Response.

The gateway serves `/v1/responses` through the same pipeline as chat, so every
provider behind it (translated or not) answers Responses clients. Rules:
- `instructions` become the first system message; `developer` messages become
  system messages too (not every provider knows the `developer` role).
- consecutive `function_call` items join the preceding assistant message's
  `tool_calls`; `function_call_output` becomes a `tool` message.
- `reasoning` items are dropped: their encrypted content belongs to OpenAI and
  no other provider can use it.
- function tools pass as they are; `custom` (freeform) tools, such as Codex's
  `apply_patch`, become a function taking one string `input` (their grammar, if
  any, goes into the description) and their calls come back as
  `custom_tool_call` items; built-in tools (web search, file search, code
  interpreter, computer use, image generation, MCP, shells) are OpenAI-hosted
  and get a 400 that names them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from router.errors import InvalidRequest
from router.providers.base import Usage
from router.wire.json import decode_body
from router.wire.responses import (
    CustomToolCallItem,
    FunctionCallItem,
    IncompleteDetails,
    InputTokensDetails,
    MessageItem,
    OutputItem,
    OutputText,
    OutputTokensDetails,
    Refusal,
    ResponseObject,
    ResponsesRequest,
    ResponseUsage,
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def parse_responses_body(raw: bytes) -> ResponsesRequest:
    _, request = decode_body(raw, ResponsesRequest)
    for name in ("background", "conversation", "prompt"):
        if getattr(request, name):
            raise InvalidRequest(f"`{name}` is not supported by this gateway", param=name)
    return request


# ---- request -> chat body ----------------------------------------------------------------------


def _text_parts(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content must be a string or a list of parts", param=where)
    texts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
    return "".join(texts)


def _user_parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content must be a string or a list of parts", param=where)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            file = {"file_data": part["file_data"], "filename": part.get("filename") or "file"}
            parts.append({"type": "file", "file": file})
        else:
            raise InvalidRequest(
                f"{where}.content[{j}]: part type {kind!r} is not supported here "
                "(use input_text, input_image with image_url, or input_file with file_data)",
                param=f"{where}.content[{j}]",
            )
    return parts


_decode_any = msgspec.json.Decoder()


def _custom_arguments(text: str) -> str:
    return msgspec.json.encode({"input": text}).decode()


def custom_input(arguments: str) -> str:
    """A custom tool's string input from the function arguments a provider produced."""
    try:
        parsed = _decode_any.decode(arguments)
    except msgspec.DecodeError:
        return arguments
    return parsed["input"] if isinstance(parsed, dict) and isinstance(parsed.get("input"), str) else arguments


def _append_call(messages: list[dict[str, Any]], item: dict[str, Any], where: str) -> None:
    for field in ("call_id", "name", "arguments"):
        if not isinstance(item.get(field), str):
            raise InvalidRequest(f"{where}.{field} must be a string", param=f"{where}.{field}")
    call = {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": item["arguments"]},
    }
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        if last.get("content") == "":
            last["content"] = None
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def input_messages(items: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `input` field as chat messages."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise InvalidRequest(
                    f"{where}.role must be user, assistant, system or developer", param=where
                )
            if role == "assistant":
                messages.append({"role": "assistant", "content": _text_parts(item.get("content"), where)})
            elif role == "user":
                messages.append({"role": "user", "content": _user_parts(item.get("content"), where)})
            else:
                messages.append({"role": "system", "content": _text_parts(item.get("content"), where)})
        elif kind == "function_call":
            _append_call(messages, item, where)
        elif kind == "custom_tool_call":
            if not isinstance(item.get("input"), str):
                raise InvalidRequest(f"{where}.input must be a string", param=f"{where}.input")
            item = {**item, "arguments": _custom_arguments(item["input"]), "type": "function_call"}
            _append_call(messages, item, where)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            if not isinstance(item.get("call_id"), str):
                raise InvalidRequest(f"{where}.call_id must be a string", param=f"{where}.call_id")
            output = item.get("output")
            text = output if isinstance(output, str) else _text_parts(output, where)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        elif kind == "reasoning":
            continue
        else:
            raise InvalidRequest(
                f"{where}: input item type {kind!r} is not supported "
                "(messages, function_call and function_call_output are)",
                param=where,
            )
    return messages


_HOSTED = "is an OpenAI-hosted built-in tool this gateway cannot provide; only `function` tools are supported"


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = []
    for i, tool in enumerate(tools):
        kind = tool.get("type")
        if kind not in ("function", "custom"):
            raise InvalidRequest(f"tools[{i}]: {kind!r} {_HOSTED}", param=f"tools[{i}].type")
        if not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools[{i}].name must be a string", param=f"tools[{i}].name")
        if kind == "custom":
            converted.append({"type": "function", "function": _custom_function(tool)})
            continue
        function: dict[str, Any] = {"name": tool["name"]}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        converted.append({"type": "function", "function": function})
    return converted


def _custom_function(tool: dict[str, Any]) -> dict[str, Any]:
    description = str(tool.get("description") or "")
    fmt = tool.get("format") or {}
    if fmt.get("type") == "grammar" and fmt.get("definition"):
        description += f"\nThe input follows this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
    return {
        "name": tool["name"],
        "description": (description + "\nPass the whole input as the string `input`.").strip(),
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
            "additionalProperties": False,
        },
    }


def custom_names(request: ResponsesRequest) -> frozenset[str]:
    return frozenset(str(t.get("name")) for t in request.tools or [] if t.get("type") == "custom")


def chat_tool_choice(
    choice: str | dict[str, Any], tools: list[dict[str, Any]]
) -> tuple[Any, list[str] | None]:
    """(chat tool_choice, names the call is restricted to or None)."""
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise InvalidRequest("tool_choice must be none, auto or required", param="tool_choice")
        return choice, None
    kind = choice.get("type")
    if kind in ("function", "custom") and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}, None
    if kind == "allowed_tools":
        names = [t.get("name") for t in choice.get("tools") or [] if isinstance(t, dict)]
        mode = choice.get("mode", "auto")
        return ("required" if mode == "required" else "auto"), [str(n) for n in names if n]
    raise InvalidRequest(f"tool_choice {kind!r} {_HOSTED}", param="tool_choice")


@dataclass(slots=True)
class Conversion:
    body: dict[str, Any]  # the OpenAI chat body the pipeline runs
    history: list[dict[str, Any]]  # the conversation so far, without instructions (what `store` keeps)


def to_chat(request: ResponsesRequest, prior: list[dict[str, Any]]) -> Conversion:
    history = [*prior, *input_messages(request.input)]
    if not history:
        raise InvalidRequest("`input` must not be empty", param="input")
    messages = [{"role": "system", "content": request.instructions}] if request.instructions else []
    body: dict[str, Any] = {"model": request.model, "messages": [*messages, *history]}
    if request.tools:
        body["tools"] = chat_tools(request.tools)
    if request.tool_choice is not None:
        choice, allowed = chat_tool_choice(request.tool_choice, request.tools or [])
        body["tool_choice"] = choice
        if allowed is not None and "tools" in body:
            body["tools"] = [t for t in body["tools"] if t["function"]["name"] in allowed]
    fmt = request.text.format if request.text is not None else None
    if fmt is not None and fmt.type == "json_schema":
        if fmt.schema is None or not fmt.name:
            raise InvalidRequest("text.format json_schema needs `name` and `schema`", param="text.format")
        schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
        if fmt.description is not None:
            schema["description"] = fmt.description
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt is not None and fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    # max_completion_tokens is OpenAI's current name; providers that only know max_tokens ignore it.
    optional = {
        "max_completion_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
        "user": request.user,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return Conversion(body, history)


# ---- chat answer -> Response -------------------------------------------------------------------


def response_usage(usage: Usage | None) -> ResponseUsage | msgspec.UnsetType:
    if usage is None:
        return msgspec.UNSET
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
        input_tokens_details=InputTokensDetails(usage.cached_tokens, usage.cache_creation_tokens),
        output_tokens_details=OutputTokensDetails(usage.reasoning_tokens),
    )


def shell(request: ResponsesRequest, response_id: str, model: str) -> ResponseObject:
    """The Response before any output: what `response.created` carries."""
    fmt = request.text.format if request.text is not None and request.text.format else None
    return ResponseObject(
        id=response_id,
        created_at=int(time.time()),
        status="in_progress",
        model=model,
        output=[],
        instructions=request.instructions,
        tools=[
            {"strict": None, "parameters": None, **t} if t.get("type") == "function" else t
            for t in request.tools or []
        ],
        tool_choice=request.tool_choice if request.tool_choice is not None else "auto",
        text={"format": msgspec.to_builtins(fmt) if fmt is not None else {"type": "text"}},
        temperature=request.temperature,
        top_p=request.top_p,
        max_output_tokens=request.max_output_tokens,
        parallel_tool_calls=request.parallel_tool_calls is not False,
        previous_response_id=request.previous_response_id,
        store=request.store is not False,
        metadata=request.metadata or {},
        user=request.user if request.user is not None else msgspec.UNSET,
    )


def finish_status(response: ResponseObject, finish_reason: str | None) -> None:
    if finish_reason == "length":
        response.status = "incomplete"
        response.incomplete_details = IncompleteDetails("max_output_tokens")
    elif finish_reason == "content_filter":
        response.status = "incomplete"
        response.incomplete_details = IncompleteDetails("content_filter")
    else:
        response.status = "completed"
        response.completed_at = int(time.time())


def completion_output(
    message: dict[str, Any], incomplete: bool, custom: frozenset[str] = frozenset()
) -> list[OutputItem]:
    status: Any = "incomplete" if incomplete else "completed"
    items: list[OutputItem] = []
    content: list[OutputText | Refusal] = []
    if isinstance(message.get("content"), str) and message["content"]:
        content.append(OutputText(message["content"]))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        content.append(Refusal(message["refusal"]))
    if content:
        items.append(MessageItem(new_id("msg"), status, content))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        if function.get("name") in custom:
            call_id = str(call.get("id") or new_id("call"))
            arguments = str(function.get("arguments") or "")
            items.append(
                CustomToolCallItem(new_id("ctc"), call_id, function["name"], custom_input(arguments))
            )
            continue
        items.append(
            FunctionCallItem(
                id=new_id("fc"),
                call_id=str(call.get("id") or new_id("call")),
                name=str(function.get("name", "")),
                arguments=str(function.get("arguments") or ""),
                status=status,
            )
        )
    return items


def from_completion(
    request: ResponsesRequest, response_id: str, completion: dict[str, Any], usage: Usage | None
) -> ResponseObject:
    response = shell(request, response_id, str(completion.get("model") or request.model))
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    finish_status(response, choice.get("finish_reason"))
    response.output = completion_output(
        choice.get("message") or {}, response.status == "incomplete", custom_names(request)
    )
    response.usage = response_usage(usage)
    return response


def assistant_message(output: list[OutputItem]) -> dict[str, Any] | None:
    """The output as one chat assistant message, for the stored conversation."""
    text = "".join(
        p.text if isinstance(p, OutputText) else p.refusal
        for item in output
        if isinstance(item, MessageItem)
        for p in item.content
    )
    calls = [
        {
            "id": item.call_id,
            "type": "function",
            "function": {
                "name": item.name,
                "arguments": item.arguments
                if isinstance(item, FunctionCallItem)
                else _custom_arguments(item.input),
            },
        }
        for item in output
        if isinstance(item, FunctionCallItem | CustomToolCallItem)
    ]
    if not text and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message
