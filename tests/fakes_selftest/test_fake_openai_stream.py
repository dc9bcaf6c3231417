"""The fake OpenAI's streamed responses, driven through the real SDK with strict validation:
every event parses as the SDK's own type, resumes replay exactly the events after N."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import aiohttp
import openai
import pytest
from openai.types.responses import ResponseStreamEvent, ToolParam
from openai.types.shared_params import Reasoning

from tests.fakes.openai_api import FakeOpenAI

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def strict(oa: FakeOpenAI) -> openai.OpenAI:
    # Strict validation: an event the SDK's models reject raises APIResponseValidationError.
    return openai.OpenAI(
        base_url=oa.url + "/v1", api_key="sk-test", max_retries=0, _strict_response_validation=True
    )


def start(
    sdk: openai.OpenAI,
    text: str = "one two three four five six seven eight nine ten",
    *,
    reasoning: Reasoning | None = None,
    tools: list[ToolParam] | None = None,
) -> openai.Stream[ResponseStreamEvent]:
    return sdk.responses.create(
        model="gpt-5-mini",
        input=text,
        background=True,
        stream=True,
        reasoning=reasoning if reasoning is not None else openai.omit,
        tools=tools if tools is not None else openai.omit,
    )


def deltas(events: Iterable[ResponseStreamEvent]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def test_a_background_stream_sends_every_event_in_order_as_the_sdk_types_them(
    oa: FakeOpenAI,
) -> None:
    sdk = strict(oa)
    oa.activity_next = ["web_search"]
    oa.citations_next = [{"filename": "guide.pdf"}]
    oa.reasoning_summary_next = "Weighing the question."
    events = list(start(sdk, "Hello there. How are you?", reasoning={"summary": "auto"}))
    kinds = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert kinds[-1] == "response.completed" and kinds.count("response.completed") == 1
    created = events[0]
    assert created.type == "response.created" and created.response.status == "queued"
    final = sdk.responses.retrieve(created.response.id)
    last = events[-1]
    assert last.type == "response.completed"
    assert last.response.model_dump() == final.model_dump()
    assert deltas(events) == final.output_text
    reasoning = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert "".join(reasoning) == "Weighing the question."
    assert [k for k in kinds if k.startswith("response.web_search_call.")] == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    # The citation is announced after the text it follows, before the text is done.
    noted = kinds.index("response.output_text.annotation.added")
    assert (
        kinds.index("response.output_text.delta") < noted < kinds.index("response.output_text.done")
    )
    assert [i.type for i in final.output] == [
        "reasoning",
        "web_search_call",
        "file_search_call",
        "message",
    ]


def test_without_reasoning_summary_requested_the_reasoning_item_has_no_summary(
    oa: FakeOpenAI,
) -> None:
    oa.reasoning_summary_next = "Hidden."
    events = list(start(strict(oa)))
    assert not [e for e in events if e.type.startswith("response.reasoning_summary")]
    added = [e for e in events if e.type == "response.output_item.added"]
    assert added[0].item.type == "reasoning"


def test_a_poll_during_the_stream_shows_the_partial_answer(oa: FakeOpenAI) -> None:
    sdk = strict(oa)
    oa.stream_first_token, oa.stream_spread, oa.stream_deltas = 0.0, 1.0, 5
    stream = start(sdk)
    response_id, written = "", ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            written += event.delta
            if len(written) < 20:
                polled = sdk.responses.retrieve(response_id)
                assert polled.status == "in_progress"
                assert polled.output_text == written
    assert sdk.responses.retrieve(response_id).status == "completed"
    assert written == sdk.responses.retrieve(response_id).output_text


def test_a_dropped_stream_raises_and_a_resume_gives_exactly_the_rest(oa: FakeOpenAI) -> None:
    sdk = strict(oa)
    oa.stream_deltas = 6
    oa.drop_streams_after(6)
    before: list[ResponseStreamEvent] = []
    with pytest.raises(openai.APIConnectionError):
        for event in start(sdk):
            before.append(event)
    assert [e.sequence_number for e in before] == list(range(6))
    response_id = before[0].response.id if before[0].type == "response.created" else ""
    after = list(sdk.responses.retrieve(response_id, stream=True, starting_after=5))
    assert after[0].sequence_number == 6 and after[-1].type == "response.completed"
    assert deltas(before) + deltas(after) == sdk.responses.retrieve(response_id).output_text
    calls = oa.stream_calls
    assert [(c.kind, c.starting_after, c.end) for c in calls] == [
        ("create", None, "dropped"),
        ("resume", 5, "finished"),
    ]
    assert calls[1].sequence_numbers == [e.sequence_number for e in after]


def test_streams_dropped_every_time_still_resume_to_the_end(oa: FakeOpenAI) -> None:
    sdk = strict(oa)
    oa.drop_streams_after(4, times=None)
    seen: list[ResponseStreamEvent] = []
    stream = start(sdk)
    for _ in range(20):
        try:
            seen.extend(stream)
            break
        except openai.APIConnectionError:
            response_id = seen[0].response.id if seen[0].type == "response.created" else ""
            stream = sdk.responses.retrieve(
                response_id, stream=True, starting_after=seen[-1].sequence_number
            )
    assert [e.sequence_number for e in seen] == list(range(len(seen)))
    assert seen[-1].type == "response.completed"
    assert all(c.end == "dropped" for c in oa.stream_calls[:-1])


def test_resumes_are_refused_for_responses_not_in_background_and_when_told(
    oa: FakeOpenAI,
) -> None:
    sdk = strict(oa)
    events = list(
        sdk.responses.create(model="gpt-5-mini", input="hi", stream=True, background=False)
    )
    assert events[0].type == "response.created" and events[0].response.status == "in_progress"
    assert "response.queued" not in [e.type for e in events]
    with pytest.raises(openai.BadRequestError):
        list(sdk.responses.retrieve(events[0].response.id, stream=True, starting_after=2))
    background = list(start(sdk))
    response_id = background[0].response.id if background[0].type == "response.created" else ""
    oa.refuse_resumes(status=404)
    with pytest.raises(openai.NotFoundError):
        list(sdk.responses.retrieve(response_id, stream=True, starting_after=2))
    assert len(list(sdk.responses.retrieve(response_id, stream=True, starting_after=2))) > 0


def test_an_error_event_ends_the_stream_and_fails_the_response(oa: FakeOpenAI) -> None:
    sdk = strict(oa)
    oa.stream_error_after = 4
    events = list(start(sdk))
    assert [e.type for e in events][-1] == "error" and len(events) == 5
    error = events[-1]
    assert error.type == "error" and error.code == "server_error"
    response_id = events[0].response.id if events[0].type == "response.created" else ""
    polled = sdk.responses.retrieve(response_id)
    assert polled.status == "failed" and polled.error is not None
    assert polled.error.code == "server_error"


def test_a_failed_response_ends_with_response_failed(oa: FakeOpenAI) -> None:
    oa.final_status = "failed"
    events = list(start(strict(oa)))
    last = events[-1]
    assert last.type == "response.failed" and last.response.error is not None
    assert last.response.error.code == "server_error"


def test_a_cancel_during_the_stream_ends_it_without_a_terminal_event(oa: FakeOpenAI) -> None:
    sdk = strict(oa)
    oa.stream_first_token, oa.stream_spread, oa.stream_deltas = 0.0, 2.0, 10
    kinds: list[str] = []
    for event in start(sdk):
        kinds.append(event.type)
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            assert sdk.responses.cancel(response_id).status == "cancelled"
    assert kinds.count("response.output_text.delta") < 3
    assert not set(kinds) & set(TERMINAL)
    assert sdk.responses.retrieve(response_id).status == "cancelled"
    assert oa.stream_calls[-1].end == "finished"


def test_function_calls_stream_their_arguments(oa: FakeOpenAI) -> None:
    oa.function_calls_next = [{"name": "lookup", "arguments": {"query": "weather in Oslo"}}]
    events = list(start(strict(oa)))
    pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and "".join(pieces) == done[0].arguments
    last = events[-1]
    assert last.type == "response.completed"
    (call,) = last.response.output
    assert call.type == "function_call" and json.loads(call.arguments) == {
        "query": "weather in Oslo"
    }


def test_code_interpreter_streams_its_code_and_the_file_link(oa: FakeOpenAI) -> None:
    oa.generated_files_next = [{"filename": "plot.png", "content": b"png"}]
    events = list(
        start(strict(oa), tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])
    )
    kinds = [e.type for e in events]
    assert "response.code_interpreter_call_code.done" in kinds
    assert kinds.index("response.code_interpreter_call.in_progress") < kinds.index(
        "response.code_interpreter_call.interpreting"
    )
    notes = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [n.annotation.type for n in notes if n.annotation] == ["container_file_citation"]


def test_the_wire_has_event_and_data_lines_keepalive_comments_and_no_obfuscation_on_request(
    oa: FakeOpenAI,
) -> None:
    oa.stream_first_token, oa.stream_keepalive = 0.4, 0.05

    async def read() -> bytes:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                oa.url + "/v1/responses",
                json={
                    "model": "gpt-5-mini",
                    "input": "hi",
                    "background": True,
                    "stream": True,
                    "stream_options": {"include_obfuscation": False},
                },
                headers={"Authorization": "Bearer sk-test"},
            ) as got,
        ):
            assert got.headers["content-type"].startswith("text/event-stream")
            return await got.read()

    raw = asyncio.run(read()).decode()
    assert ": keepalive\n\n" in raw
    frames = [f for f in raw.split("\n\n") if f and not f.startswith(":")]
    for block in frames:
        event_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        assert "obfuscation" not in data
