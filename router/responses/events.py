"""OpenAI chat stream chunks -> the Responses API's stream events.

Sequence, as OpenAI documents it: `response.created`, `response.in_progress`;
per output item `response.output_item.added`, then for a message
`response.content_part.added`, `response.output_text.delta`...,
`response.output_text.done`, `response.content_part.done`, or for a function
call `response.function_call_arguments.delta`...,
`response.function_call_arguments.done`; then `response.output_item.done`; and
last `response.completed` (or `response.incomplete`, or `response.failed` when
the upstream broke mid-stream). Every event carries a rising `sequence_number`.
Each frame is `event: <type>` plus `data: <json>`; there is no `[DONE]`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from router.providers.base import Usage
from router.responses.convert import custom_input, finish_status, new_id, response_usage
from router.wire.responses import (
    CustomToolCallItem,
    FunctionCallItem,
    MessageItem,
    OutputText,
    ResponseError,
    ResponseObject,
)

Item = MessageItem | FunctionCallItem | CustomToolCallItem

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class _Chunk(msgspec.Struct):
    choices: list[dict[str, Any]] = []
    usage: dict[str, Any] | None = None
    model: str | None = None


_chunk_decoder = msgspec.json.Decoder(_Chunk)


class ResponseEvents:
    """Feed OpenAI SSE frames (`data: {...}\\n\\n`); get Responses SSE frames back."""

    def __init__(self, response: ResponseObject, custom: frozenset[str] = frozenset()) -> None:
        self.response = response
        self.custom = custom  # names of `custom` tools: their calls are custom_tool_call items
        self.sequence = 0
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._message: MessageItem | None = None
        self._calls: dict[int, FunctionCallItem | CustomToolCallItem] = {}  # chat tool-call index -> item
        self._custom_args: dict[str, str] = {}  # custom item id -> JSON arguments so far
        self._open: list[Item] = []

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"

    def start(self) -> list[bytes]:
        return [
            self._event("response.created", response=self.response),
            self._event("response.in_progress", response=self.response),
        ]

    def _index(self, item: Item) -> int:
        return next(i for i, it in enumerate(self.response.output) if it is item)

    def _add(self, item: Item) -> bytes:
        self.response.output.append(item)
        self._open.append(item)
        return self._event("response.output_item.added", output_index=self._index(item), item=item)

    def _text(self, delta: str) -> list[bytes]:
        frames: list[bytes] = []
        message = self._message
        # identity, not ==: Struct equality would compare the growing text on every chunk
        if message is None or not any(item is message for item in self._open):  # text after a tool call: new
            message = self._message = MessageItem(new_id("msg"), "in_progress", [])
            frames.append(self._add(message))
            added = OutputText("")
            message.content.append(added)
            frames.append(
                self._event(
                    "response.content_part.added",
                    item_id=message.id,
                    output_index=self._index(message),
                    content_index=0,
                    part=added,
                )
            )
        part = message.content[0]
        assert isinstance(part, OutputText)
        part.text += delta
        frames.append(
            self._event(
                "response.output_text.delta",
                item_id=message.id,
                output_index=self._index(message),
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return frames

    def _tool_call(self, fragment: dict[str, Any]) -> list[bytes]:
        frames: list[bytes] = []
        index = int(fragment.get("index") or 0)
        function = fragment.get("function") or {}
        item = self._calls.get(index)
        if item is None:
            if self._message is not None and any(item is self._message for item in self._open):
                frames.extend(self._close(self._message))
            call_id = str(fragment.get("id") or new_id("call"))
            name = str(function.get("name") or "")
            if name in self.custom:
                item = CustomToolCallItem(new_id("ctc"), call_id, name, "")
                self._custom_args[item.id] = ""
            else:
                item = FunctionCallItem(new_id("fc"), call_id, name, "", "in_progress")
            self._calls[index] = item
            frames.append(self._add(item))
        arguments = function.get("arguments")
        if isinstance(item, CustomToolCallItem):
            # The provider streams JSON around the input string: the input is known whole at the end.
            if isinstance(arguments, str):
                self._custom_args[item.id] += arguments
            return frames
        if isinstance(arguments, str) and arguments:
            item.arguments += arguments
            frames.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item.id,
                    output_index=self._index(item),
                    delta=arguments,
                )
            )
        return frames

    def _close(self, item: Item, status: str = "completed") -> list[bytes]:
        self._open = [other for other in self._open if other is not item]
        output_index = self._index(item)
        frames: list[bytes] = []
        if isinstance(item, CustomToolCallItem):
            item.input = custom_input(self._custom_args.pop(item.id, ""))
            common = {"item_id": item.id, "output_index": output_index}
            frames.append(self._event("response.custom_tool_call_input.delta", **common, delta=item.input))
            frames.append(self._event("response.custom_tool_call_input.done", **common, input=item.input))
        elif isinstance(item, MessageItem):
            item.status = status  # type: ignore[assignment]
            part = item.content[0]
            assert isinstance(part, OutputText)
            common = {"item_id": item.id, "output_index": output_index, "content_index": 0}
            frames.append(self._event("response.output_text.done", **common, text=part.text, logprobs=[]))
            frames.append(self._event("response.content_part.done", **common, part=part))
        else:
            item.status = status  # type: ignore[assignment]
            frames.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=output_index,
                    name=item.name,
                    arguments=item.arguments,
                )
            )
        frames.append(self._event("response.output_item.done", output_index=output_index, item=item))
        return frames

    def feed(self, frame: bytes) -> list[bytes]:
        """One OpenAI SSE frame (as the dispatcher yields them) -> Responses frames."""
        frames: list[bytes] = []
        for line in frame.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if not payload or payload == b"[DONE]":
                continue
            chunk = _chunk_decoder.decode(payload)
            if chunk.model and self.response.model != chunk.model:
                self.response.model = chunk.model
            if chunk.usage is not None:
                self.usage = _usage(chunk.usage)
            for choice in chunk.choices[:1]:
                delta = choice.get("delta") or {}
                text = delta.get("content") or delta.get("refusal")
                if isinstance(text, str) and text:
                    frames.extend(self._text(text))
                for fragment in delta.get("tool_calls") or ():
                    frames.extend(self._tool_call(fragment))
                if choice.get("finish_reason"):
                    self.finish_reason = choice["finish_reason"]
        return frames

    def finish(self, usage: Usage | None) -> list[bytes]:
        """After the upstream ended: close open items, then `response.completed` or `.incomplete`."""
        response = self.response
        finish_status(response, self.finish_reason)
        item_status = "incomplete" if response.status == "incomplete" else "completed"
        frames: list[bytes] = []
        for item in list(self._open):
            frames.extend(self._close(item, item_status))
        response.usage = response_usage(usage or self.usage)
        kind = "response.completed" if response.status == "completed" else "response.incomplete"
        frames.append(self._event(kind, response=response))
        return frames

    def fail(self, message: str, usage: Usage | None) -> list[bytes]:
        """The upstream broke after the stream was committed: `response.failed` with what was produced."""
        response = self.response
        for item in self._open:
            if isinstance(item, CustomToolCallItem):
                item.input = custom_input(self._custom_args.get(item.id, ""))
            else:
                item.status = "incomplete"
        self._open.clear()
        response.status = "failed"
        response.error = ResponseError("server_error", message)
        response.usage = response_usage(usage or self.usage)
        return [self._event("response.failed", response=response)]


def _usage(raw: dict[str, Any]) -> Usage:
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )
