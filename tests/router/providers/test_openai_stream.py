"""The OpenAI stream translator: events pass through as they came, usage and text length read on the way."""

from __future__ import annotations

import json
import random

from router.providers.base import Call
from router.providers.openai_compat import OpenAIStreamTranslator


def _translator(client_wants_usage: bool = False) -> OpenAIStreamTranslator:
    call = Call(
        body={}, upstream_model="m", stream=True, client_wants_usage=client_wants_usage, request_id="r"
    )
    return OpenAIStreamTranslator(call, "openai")


def _event(content: str) -> bytes:
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


USAGE = b'data: {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'


def test_a_read_of_whole_one_line_events_goes_out_as_the_same_bytes() -> None:
    translator = _translator()
    read = _event("Hel") + _event("lo")
    assert translator.feed(read) == [read] and translator.feed(read)[0] is read
    assert translator.text_chars == 10


def test_events_split_across_reads_are_joined_and_nothing_is_lost() -> None:
    translator = _translator()
    stream = _event("one") + _event("two") + USAGE + b"data: [DONE]\n\n"
    frames: list[bytes] = []
    for at in range(0, len(stream), 7):
        frames += translator.feed(stream[at : at + 7])
    # the usage-only event (the client did not ask for usage) is not passed on; [DONE] is, where it came
    assert b"".join(frames) == _event("one") + _event("two") + b"data: [DONE]\n\n"
    assert translator.finish() == []  # no second [DONE]
    assert translator.usage is not None and translator.usage.completion_tokens == 4
    assert translator.text_chars == 6


def test_the_last_read_with_done_leaves_whole_and_done_is_added_only_when_missing() -> None:
    translator = _translator()
    last_read = _event("end") + b"data: [DONE]\n\n"
    assert translator.feed(last_read) == [last_read]  # one frame: one write, [DONE] in it
    assert translator.finish() == []
    cut_short = _translator()
    assert cut_short.feed(_event("end")) == [_event("end")]
    assert cut_short.finish() == [b"data: [DONE]\n\n"]  # the upstream never sent it: the client still gets it


def test_other_events_are_reframed_around_the_ones_passed_as_they_came() -> None:
    translator = _translator(client_wants_usage=True)
    read = (
        b": keep-alive\n\n"
        + _event("a")
        + b"event: message\r\ndata: "
        + b'{"choices": []}'
        + b"\r\n\r\n"
        + USAGE
    )
    frames = translator.feed(read)
    assert b"".join(frames) == _event("a") + b'data: {"choices": []}\n\n' + USAGE


def test_a_broken_stream_counts_events_not_reads() -> None:
    """A read of whole events leaves as one frame; a broken stream's log row still counts the events (the
    number of upstream events that got through, whatever the reads were)."""
    translator = _translator()
    frames = translator.feed(_event("a") + _event("b") + _event("c")) + translator.feed(_event("d"))
    assert len(frames) == 2 and translator.events == 4
    # an event not passed on (usage the client did not ask for, a comment) is not counted; [DONE] and a re-framed
    # one are
    translator.feed(USAGE + b": keep-alive\n\n" + b'data: {"choices":\ndata: []}\n\n' + b"data: [DONE]\n\n")
    assert translator.events == 6


def test_an_event_whose_json_spans_several_data_lines_is_read_whole_and_sent_as_one_line() -> None:
    """SSE joins an event's `data:` lines with line feeds; a provider that pretty-prints its chunks must not
    break the stream (the last line alone was taken before: a malformed-stream error)."""
    translator = _translator()
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "multi\nline"}}]}
    lines = json.dumps(chunk, indent=2).encode().split(b"\n")
    spread = b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
    frames = translator.feed(spread + _event("!"))
    assert translator.error is None
    sent = b"".join(frames)
    events = [e for e in sent.split(b"\n\n") if e]
    assert len(events) == 2 and all(e.startswith(b"data: ") and b"\n" not in e for e in events)
    assert json.loads(events[0][6:]) == chunk
    assert events[1] + b"\n\n" == _event("!")
    assert translator.text_chars == len("multi\nline") + 1


class _EventByEvent(OpenAIStreamTranslator):
    """The translator with its whole-read shortcut off: every read goes through the event-by-event path."""

    __slots__ = ()

    def _whole_events(self, buffer: bytes) -> list[bytes] | None:
        return None


def _random_event(rng: random.Random) -> str:
    def chunk(content: str | None = "w", usage: bool = False, choices: bool = True) -> str:
        body: dict[str, object] = {"id": "c", "choices": [{"delta": {"content": content}}] if choices else []}
        if usage:
            body["usage"] = {"prompt_tokens": 3, "completion_tokens": 4}
        return json.dumps(body, separators=rng.choice([(",", ":"), (", ", ": ")]))

    if rng.random() < 0.6:  # most events are plain content chunks, as in a real stream
        return "data: " + chunk(rng.choice(["hi", "a\nb", "", None, "data: [DONE]", "é"]))
    return rng.choice(
        [
            "data: " + chunk(usage=True, choices=False),
            "data: " + chunk("x", usage=True),
            ": keep-alive",
            "event: message\ndata: " + chunk("y"),
            "data: " + chunk("z").replace(",", ",\ndata: ", 1),
            "data: [DONE]",
            "data: {bad json",
            'data: {"error": {"message": "boom"}}',
            "data:" + chunk("no space"),
            "",
            'data: {"choices": []}, {"choices": []}',
            "data: 123",
        ]
    )


def _outcome(translator: OpenAIStreamTranslator, stream: bytes, cuts: list[int]) -> tuple[object, ...]:
    frames: list[bytes] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames += translator.feed(stream[start:stop])
    if translator.error is None:
        frames += translator.finish()
    error = translator.error
    joined = b"".join(frames)
    assert translator.events == joined.count(b"\n\n")  # the events it returned, counted as they were read
    return (
        joined,
        translator.text_chars,
        translator.usage,
        error and error.message,
        error and error.error_type,
    )


def test_the_whole_read_shortcut_says_exactly_what_the_event_by_event_path_says() -> None:
    # Random streams of every event shape (and CRLF, partial tails, random read cuts): the same bytes out, the
    # same text length, usage and error, whichever path read them.
    rng = random.Random(7)
    shortcut_taken = 0
    for _ in range(2000):
        events = [_random_event(rng) for _ in range(rng.randint(0, 10))]
        if rng.random() < 0.5:
            events.append("data: [DONE]")
        text = "".join(event + "\n\n" for event in events) + ("data: partial" if rng.random() < 0.2 else "")
        stream = (text.replace("\n", "\r\n") if rng.random() < 0.1 else text).encode()
        cuts = sorted(rng.randint(0, len(stream)) for _ in range(rng.randint(0, 3)))
        wants_usage = rng.random() < 0.5
        fast, slow = _translator(wants_usage), _EventByEvent(_translator(wants_usage)._call, "openai")
        shortcut_taken += bool(stream) and fast._whole_events(stream) is not None
        fast = _translator(wants_usage)
        assert _outcome(fast, stream, cuts) == _outcome(slow, stream, cuts), stream
    assert shortcut_taken > 200  # the shortcut was exercised, not only the fallback
