"""Claude Code's request shapes replayed against `/v1/messages` with the anthropic SDK parsing the answers.

Claude Code uses the SDK's beta client: `POST /v1/messages?beta=true` with `anthropic-beta` and
`anthropic-version` headers, `system` as blocks with `cache_control`, tools, `thinking`, `metadata`,
streaming; it probes `HEAD /` and calls `/v1/messages/count_tokens?beta=true`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anthropic
import httpx
import pytest

from router.serving import ServerThread
from router.sim.app import SimApp
from tests.conftest import Gateway, GatewayFactory

BETAS = ["claude-code-20250219", "interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"]
SYSTEM: list[Any] = [
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": {"type": "ephemeral"},
    },
    {
        "type": "text",
        "text": "You are an interactive CLI tool that helps users with software engineering tasks.",
        "cache_control": {"type": "ephemeral"},
    },
]
TOOLS: list[Any] = [
    {
        "name": "Bash",
        "description": "Executes a given bash command in a persistent shell session.",
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
                "description": {"type": "string"},
            },
            "required": ["command"],
            "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#",
        },
    },
    {
        "name": "Read",
        "description": "Reads a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}, "offset": {"type": "number"}},
            "required": ["file_path"],
            "additionalProperties": False,
        },
    },
]
FIRST_TURN: list[Any] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>This is a reminder.</system-reminder>"},
            {"type": "text", "text": "List the files in this repo", "cache_control": {"type": "ephemeral"}},
        ],
    }
]


class HeaderRecorder:
    """An ASGI wrapper in front of a sim that keeps the headers of every request it forwards."""

    def __init__(self, app: SimApp) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture
def recorder() -> Iterator[tuple[HeaderRecorder, str]]:
    recorder = HeaderRecorder(SimApp())
    with ServerThread(recorder) as server:
        yield recorder, server.url


def claude(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="test-key", max_retries=0)


def test_claude_code_agent_turns(make_gateway: GatewayFactory, recorder: tuple[HeaderRecorder, str]) -> None:
    headers, url = recorder
    gateway = make_gateway(overrides={"providers": {"anthropic": {"base_url": f"{url}/anthropic/v1"}}})
    client = claude(gateway).with_options(default_headers={"anthropic-version": "2023-01-01"})
    shape: dict[str, Any] = {
        "model": "claude-sonnet-4",
        "max_tokens": 32000,
        "system": SYSTEM,
        "tools": TOOLS,
        "metadata": {"user_id": "user_1234_account__session_abcd"},
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "betas": BETAS,
        # a field this gateway does not know: ignored (documented rule), never a 400
        "extra_body": {
            "temperature": 1,
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        },
    }
    with client.beta.messages.stream(messages=FIRST_TURN, **shape) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert first.stop_reason == "tool_use"
    (tool_use,) = [b for b in first.content if b.type == "tool_use"]
    assert tool_use.name == "Bash" and isinstance(tool_use.input, dict) and "command" in tool_use.input
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    upstream = [h for h in headers.seen if h.get("anthropic-beta")]
    assert upstream and upstream[-1]["anthropic-beta"] == ",".join(BETAS)
    # the client's version, not the adapter's default (2023-06-01), reached the provider
    assert upstream[-1]["anthropic-version"] == "2023-01-01"

    second_turn = [
        *FIRST_TURN,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "README.md\nrouter/"}],
        },
    ]
    with client.beta.messages.stream(messages=second_turn, **shape) as stream:
        answer = stream.get_final_message()
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text" and answer.content[0].text


def test_title_request_on_a_small_model_routed_to_openai(gateway: Gateway) -> None:
    """Claude Code's quick non-streamed side requests, here served by a model of another dialect."""
    answer = claude(gateway).beta.messages.create(
        model="gpt-4o-mini",
        max_tokens=512,
        system=[{"type": "text", "text": "Summarize this coding conversation in under 50 characters."}],
        messages=[{"role": "user", "content": "Please analyze this conversation and write a title"}],
        betas=BETAS,
    )
    assert answer.type == "message" and answer.role == "assistant" and answer.content[0].type == "text"


def test_count_tokens(gateway: Gateway) -> None:
    client = claude(gateway)
    plain = client.messages.count_tokens(model="claude-sonnet-4", messages=FIRST_TURN)
    with_tools = client.beta.messages.count_tokens(
        model="claude-sonnet-4", system=SYSTEM, messages=FIRST_TURN, tools=TOOLS, betas=BETAS
    )
    assert 0 < plain.input_tokens < with_tools.input_tokens
    with pytest.raises(anthropic.BadRequestError):
        client.messages.count_tokens(model="claude-sonnet-4", messages=[])


def test_head_root_is_answered(gateway: Gateway) -> None:
    assert httpx.head(f"{gateway.url}/").status_code == 200
