"""Read server-sent events from the gateway on loopback, one parsed event at a time (for wire tests)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.openapi_schema import validate


def post_sse(
    url: str, body: dict[str, Any], timeout: float = 10, headers: dict[str, str] | None = None
) -> list[tuple[str | None, str]]:
    """POST `body`; the (event name, data) pairs of the response, in order. Asserts a 200 event stream."""
    pairs: list[tuple[str | None, str]] = []
    with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name: str | None = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                pairs.append((name, line[6:]))
                name = None
    return pairs


def chat_chunks(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat stream's chunks; asserts it ends with exactly one `data: [DONE]`."""
    pairs = post_sse(url, {**body, "stream": True})
    assert pairs[-1][1] == "[DONE]" and all(data != "[DONE]" for _, data in pairs[:-1])
    return [json.loads(data) for _, data in pairs[:-1]]


# stream event type -> its schema in the spec
EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.custom_tool_call_input.delta": "ResponseCustomToolCallInputDeltaEvent",
    "response.custom_tool_call_input.done": "ResponseCustomToolCallInputDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
    "error": "ResponseErrorEvent",
}


def responses_events(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a streamed request; every SSE event checked for `event:` = data.type and against its schema."""
    events: list[dict[str, Any]] = []
    for name, data in post_sse(url, {**body, "stream": True}):
        event = json.loads(data)
        assert event["type"] == name
        validate(event, EVENT_SCHEMAS[event["type"]])
        validate(event, "ResponseStreamEvent")
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events
