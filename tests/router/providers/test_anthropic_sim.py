"""The simulated Anthropic API is faithful: the official `anthropic` SDK parses its answers, streams and errors."""

from __future__ import annotations

import anthropic
import pytest

from router.sim.faults import FaultRule
from tests.conftest import Sim

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(sim: Sim) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{sim.url}/anthropic", api_key="sim-key", max_retries=0)


def test_create_text(sim: Sim) -> None:
    message = client(sim).messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "Tell me about routing"}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_stream_tool_use_accumulates(sim: Sim) -> None:
    with client(sim).messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=200,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and "content_block_stop" in kinds
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "sample"}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0


def test_stream_text_max_tokens_and_stop_sequence(sim: Sim) -> None:
    with client(sim).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=3,
        messages=[{"role": "user", "content": "Write a long essay on gateways"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert len(text.split()) == 3 and final.stop_reason == "max_tokens"
    full = client(sim).messages.create(
        model="claude-haiku-4-5", max_tokens=500, messages=[{"role": "user", "content": "Essay on gateways"}]
    )
    word = full.content[0].text.split()[4]  # type: ignore[union-attr]
    stopped = client(sim).messages.create(
        model="claude-haiku-4-5",
        max_tokens=500,
        stop_sequences=[" " + word],
        messages=[{"role": "user", "content": "Essay on gateways"}],
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == " " + word


def test_tool_result_answered_with_text_and_bad_ids_refused(sim: Sim) -> None:
    turns = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]
    message = client(sim).messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=100,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=turns,  # type: ignore[arg-type]
    )
    assert message.content[0].type == "text" and message.stop_reason == "end_turn"
    turns[2] = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}],
    }
    with pytest.raises(anthropic.BadRequestError):
        client(sim).messages.create(model="claude-sonnet-4-20250514", max_tokens=100, messages=turns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (529, anthropic.InternalServerError),
    ],
)
def test_errors_parse(sim: Sim, status: int, error: type[Exception]) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=status))
    with pytest.raises(error) as info:
        client(sim).messages.create(
            model="claude-sonnet-4-20250514", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert isinstance(info.value, anthropic.APIStatusError) and info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"]
