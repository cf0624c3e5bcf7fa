"""`POST /v1/responses` through the official openai SDK against the gateway on the sim, validated against
OpenAI's OpenAPI schema (the Response object and every stream event)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import openai
import pydantic
import pytest
from sqlalchemy import select, text

from router.errors import NotFound
from router.log.schema import requests as requests_table
from router.log.schema import stored_responses
from router.responses.store import ResponseStore
from router.settings import ResponsesConfig
from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim, migrated_database
from tests.openapi_schema import validate
from tests.sse import responses_events

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


def raw_events(gateway: Gateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    return responses_events(f"{gateway.url}/v1/responses", body)


def test_plain_create_matches_schema(gateway: Gateway) -> None:
    raw = gateway.client().responses.with_raw_response.create(
        model="gpt-4o", input="Say hello to the team", instructions="Be brief", temperature=0.3
    )
    body = json.loads(raw.http_response.content)
    validate(body, "Response")
    response = raw.parse()
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.completed_at is not None
    assert response.output_text and len(response.output_text.split()) >= 12
    assert response.instructions == "Be brief" and response.temperature == 0.3
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert raw.headers["x-tiergate-model"] == "gpt-4o" and float(raw.headers["x-tiergate-cost-usd"]) > 0


def test_input_items_and_auto_routing(gateway: Gateway) -> None:
    raw = gateway.client().responses.with_raw_response.create(
        model="auto",
        input=[
            {"role": "developer", "content": "You answer briefly."},
            {"role": "user", "content": [{"type": "input_text", "text": "Solve 3x + 7 = 22"}]},
        ],
        max_output_tokens=16,
    )
    response = raw.parse()
    assert raw.headers["x-tiergate-router"] == "placeholder" and raw.headers["x-tiergate-tier"] == "reasoning"
    # 16 tokens cut the answer short: OpenAI reports that as incomplete
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    validate(json.loads(raw.http_response.content), "Response")


def test_streamed_text_event_sequence(gateway: Gateway) -> None:
    events = raw_events(gateway, {"model": "deepseek-v3", "input": "Tell me about routing please"})
    kinds = [e["type"] for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert events[-4]["text"] == text and len(text.split()) >= 12
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == text and final["usage"]["output_tokens"] > 0
    assert events[0]["response"]["status"] == "in_progress" and final["status"] == "completed"
    item_id = events[2]["item"]["id"]
    assert all(e["item_id"] == item_id for e in events if "item_id" in e)


def test_sdk_stream_helper_accumulates_the_same_response(gateway: Gateway) -> None:
    client = gateway.client()
    with client.responses.stream(model="gpt-4o", input="hello there") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.status == "completed"


def test_function_tool_loop_with_previous_response_id(gateway: Gateway) -> None:
    client = gateway.client()
    first = client.responses.create(
        model="gpt-4o", input="What's the weather in Paris?", tools=[WEATHER], tool_choice="auto"
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "sample", "unit": "c"}
    assert calls[0].id.startswith("fc_") and calls[0].call_id.startswith("call_")
    second = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"temp": 21}'}],
        tools=[WEATHER],
    )
    # the sim answers in text only when the last message it sees is the tool result: the stored history
    # (user turn, assistant tool call) came back in front of the new input
    assert second.output_text and second.previous_response_id == first.id
    assert second.usage is not None and second.usage.input_tokens > first.usage.input_tokens  # type: ignore[union-attr]
    third = client.responses.create(model="gpt-4o", previous_response_id=second.id, input="Thanks! And Rome?")
    assert third.output_text


def test_streamed_function_call_events(gateway: Gateway) -> None:
    events = raw_events(
        gateway,
        {
            "model": "gpt-4o",
            "input": "Weather?",
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "name": "get_weather"},
        },
    )
    kinds = [e["type"] for e in events]
    assert kinds[2] == "response.output_item.added" and events[2]["item"]["type"] == "function_call"
    assert events[2]["item"]["arguments"] == "" and events[2]["item"]["name"] == "get_weather"
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(deltas) == done["arguments"] and json.loads(done["arguments"])["city"] == "sample"
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    assert events[-1]["response"]["output"][0]["arguments"] == done["arguments"]


class Answer(pydantic.BaseModel):
    city: str
    population: int
    districts: list[str]


def test_structured_output(gateway: Gateway) -> None:
    parsed = gateway.client().responses.parse(model="gpt-4o", input="Describe Paris", text_format=Answer)
    assert parsed.output_parsed is not None
    assert parsed.output_parsed.districts and isinstance(parsed.output_parsed.population, int)


@pytest.mark.parametrize(
    ("tool", "name"),
    [
        ({"type": "web_search"}, "web_search"),
        ({"type": "file_search", "vector_store_ids": ["vs_1"]}, "file_search"),
        ({"type": "code_interpreter", "container": {"type": "auto"}}, "code_interpreter"),
        (
            {"type": "computer_use_preview", "display_width": 1, "display_height": 1, "environment": "linux"},
            "computer_use_preview",
        ),
    ],
)
def test_builtin_tools_are_a_clear_400(gateway: Gateway, tool: dict[str, Any], name: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().responses.create(model="gpt-4o", input="hi", tools=[WEATHER, tool])  # type: ignore[list-item]
    assert name in caught.value.message and "function" in caught.value.message
    assert caught.value.param == "tools[1].type"  # type: ignore[attr-defined]


def test_unknown_or_unstored_previous_response_is_404(gateway: Gateway) -> None:
    client = gateway.client()
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_nope")
    unstored = client.responses.create(model="gpt-4o", input="hi", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="again", previous_response_id=unstored.id)


def test_stream_break_ends_with_response_failed(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(match="break me", stream_error_after=4))
    sim.app.ctx.chunk_ms = 20  # frames arrive one by one, so the first is committed before the break
    try:
        events = raw_events(gateway, {"model": "gpt-4o", "input": "please break me now"})
    finally:
        sim.app.ctx.chunk_ms = 0
    assert events[-1]["type"] == "response.failed"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    # Logged as an error with the number of upstream frames that got through (the sim errs after 4).
    deadline = time.monotonic() + 10
    broken: list[Any] = []
    while not broken and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            broken = list(
                connection.execute(select(requests_table).where(requests_table.c.endpoint == "responses"))
            )
        time.sleep(0.05)
    assert len(broken) == 1 and broken[0].status == "error" and broken[0].stream_broke_at == 4


def test_logged_as_responses(gateway: Gateway) -> None:
    client = gateway.client()
    client.responses.create(model="gpt-4o", input="hello", extra_headers={"x-request-id": "resp-log-1"})
    for _ in client.responses.create(
        model="gpt-4o", input="hello", stream=True, extra_headers={"x-request-id": "resp-log-2"}
    ):
        pass
    deadline = time.monotonic() + 10
    rows: dict[str, Any] = {}
    while len(rows) < 2 and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            rows = {r.id: r for r in connection.execute(select(requests_table))}
        time.sleep(0.05)
    for request_id in ("resp-log-1", "resp-log-2"):
        row = rows[request_id]
        assert row.endpoint == "responses" and row.status == "ok" and row.model == "gpt-4o"
        assert row.prompt_tokens > 0 and row.completion_tokens > 0 and row.cost_usd > 0
    assert rows["resp-log-2"].streamed is True and rows["resp-log-2"].cost_estimated is False


def test_expired_responses_are_not_served_and_are_purged(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"responses": {"retention_hours": 0.0, "purge_interval_s": 0.05}})
    client = gateway.client()
    first = client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="again", previous_response_id=first.id)
    deadline = time.monotonic() + 10
    left = 1
    while left and time.monotonic() < deadline:  # the background purge deletes the expired row
        with gateway.engine.connect() as connection:
            left = len(connection.execute(select(stored_responses.c.id)).all())
        time.sleep(0.05)
    assert left == 0


def test_upstream_failure_before_output_is_an_http_error(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=500))
    client = gateway.client()
    with pytest.raises(openai.InternalServerError) as plain:
        client.responses.create(model="gpt-4o", input="fail please")
    assert plain.value.status_code == 502
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="gpt-4o", input="fail please", stream=True)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_store_round_trip_and_purge(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    store = ResponseStore.open(
        migrated_database(backend, tmp_path, request), ResponsesConfig(retention_hours=1.0)
    )
    try:
        history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        await store.save("resp_a", "key-1", "gpt-4o", history, {"id": "resp_a"})
        await store.save("resp_b", None, "gpt-4o", history, {"id": "resp_b"})
        assert (await store.load("resp_a", "key-1", "p")).history == history
        with pytest.raises(NotFound):
            await store.load("resp_a", "key-2", "p")  # another key's conversation is not visible
        assert (await store.load("resp_b", "anyone", "p")).response == {"id": "resp_b"}
        for never_ours in ("resp_\u0000", "resp_" + "a" * 60, "resp_\nb"):
            with pytest.raises(NotFound):  # not a 503: PostgreSQL refused the NUL, the store read it as down
                await store.load(never_ours, None, "p")
        assert await store.purge(datetime.now(UTC)) == 0
        assert await store.purge(datetime.now(UTC) + timedelta(hours=2)) == 2
        with pytest.raises(NotFound):
            await store.load("resp_b", None, "p")
    finally:
        await store.close()


def test_codex_request_shape(gateway: Gateway) -> None:
    """What Codex CLI sends: store false, streamed, reasoning items replayed, developer instructions, a
    shell function tool, include/prompt_cache_key/reasoning/verbosity fields the gateway accepts and ignores."""
    shell = {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"}},
                "workdir": {"type": "string"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    }
    history: list[Any] = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "<permissions>"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is in this repo?"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA..."},
        {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "README.md\nrouter"},
    ]
    body = {
        "model": "auto",
        "instructions": "You are Codex, a coding agent.",
        "input": history,
        "tools": [shell],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
        "text": {"verbosity": "medium"},
    }
    events = raw_events(gateway, body)
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed" and final["store"] is False
    # after the tool result the model answers in text, so the replayed history reached it in order
    assert final["output"][0]["type"] == "message" and final["output"][0]["content"][0]["text"]
    next_turn = raw_events(
        gateway, {**body, "input": [*history, *final["output"], {"role": "user", "content": "ok"}]}
    )
    assert next_turn[-1]["response"]["output"][0]["type"] == "function_call"


def test_streamed_incomplete(gateway: Gateway) -> None:
    events = raw_events(
        gateway, {"model": "gpt-4o", "input": "Tell me a long story", "max_output_tokens": 16}
    )
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"


def test_retrieve_and_delete_stored_response(gateway: Gateway) -> None:
    client = gateway.client()
    created = client.responses.create(model="gpt-4o", input="hello")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_cache_hits_are_answered_as_responses(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"keys": {"cache": {"enabled": True}}})
    client = gateway.client()
    request: dict[str, Any] = {"model": "gpt-4o", "input": "Is this answer cached?", "store": False}
    first = client.responses.create(**request)
    hit = client.responses.with_raw_response.create(**request)
    assert hit.headers.get("x-tiergate-cache") == "hit" and hit.parse().output_text == first.output_text
    validate(json.loads(hit.http_response.content), "Response")
    fresh = raw_events(gateway, request)  # streams are cached separately
    with client.responses.with_streaming_response.create(**request, stream=True) as raw:
        assert raw.headers.get("x-tiergate-cache") == "hit"
    replayed = raw_events(gateway, request)
    assert replayed[-1]["response"]["output"][0]["content"][0]["text"] == first.output_text
    assert [e["type"] for e in replayed] == [e["type"] for e in fresh]


def test_store_outage_still_answers(gateway: Gateway) -> None:
    client = gateway.client()
    with gateway.engine.begin() as connection:
        connection.execute(text("DROP TABLE stored_responses"))  # the store is gone; serving is not
    answered = client.responses.create(model="gpt-4o", input="hello")
    assert answered.output_text
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="gpt-4o", input="again", previous_response_id=answered.id)
    assert caught.value.status_code == 503


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use `apply_patch` to edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'},
}


def test_custom_tool_round_trip(gateway: Gateway) -> None:
    """Codex's freeform `apply_patch`: offered as a function of one string, answered as custom_tool_call."""
    client = gateway.client()
    raw = client.responses.with_raw_response.create(
        model="gpt-4o",
        input="Fix the typo",
        tools=[APPLY_PATCH],
        tool_choice={"type": "custom", "name": "apply_patch"},
    )
    validate(json.loads(raw.http_response.content), "Response")
    first = raw.parse()
    (call,) = first.output
    assert call.type == "custom_tool_call" and call.name == "apply_patch" and call.input == "sample"
    second = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"}],
        tools=[APPLY_PATCH],
    )
    assert second.output_text  # the tool result came back: the model answers in text
    replayed = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "Fix the typo"},
            {"type": "custom_tool_call", "call_id": call.call_id, "name": "apply_patch", "input": call.input},
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"},
        ],
        tools=[APPLY_PATCH],
    )
    assert replayed.output_text


def test_custom_tool_stream_events(gateway: Gateway) -> None:
    events = raw_events(gateway, {"model": "gpt-4o", "input": "Fix the typo", "tools": [APPLY_PATCH]})
    kinds = [e["type"] for e in events]
    added = events[kinds.index("response.output_item.added")]
    assert added["item"]["type"] == "custom_tool_call" and added["item"]["input"] == ""
    done = events[kinds.index("response.custom_tool_call_input.done")]
    assert done["input"] == "sample" and kinds[-2:] == ["response.output_item.done", "response.completed"]
    assert events[-1]["response"]["output"][0]["input"] == "sample"
