"""Streamed Responses runs read by the bridge (bot/backends/streams.py) through a real aiohttp
session against the fake OpenAI: answer text in order, tool steps, resumes after a drop, and
an end that is exactly the state a poll of the same response gives."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends.base import RunState, RunStatus, UserMessage
from bot.backends.responses import ResponsesBackend
from bot.backends.streams import (
    RunStream,
    StreamDropped,
    StreamEnd,
    StreamItem,
    TextDelta,
    ToolStep,
)
from bot.errors import BackendError
from bot.functions.calls import ToolOutput
from tests.fakes.openai_api import FakeOpenAI

T = TypeVar("T")
ASSISTANT = Assistant(name="helper", model="gpt-4o", instructions="Be brief.")
ANSWER = "The answer is forty two, and here is why it is so."


@pytest.fixture
def oa() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.latency = 0.3
        fake.responder = lambda ctx: ANSWER
        yield fake
        assert fake.server_errors() == []


def on_backend(
    oa: FakeOpenAI,
    body: Callable[[ResponsesBackend, str], Awaitable[T]],
    *,
    idle: float = 30.0,
    session: bool = True,
) -> T:
    """Hand a backend on a real aiohttp session and a fresh conversation's id to `body`."""

    async def scenario() -> T:
        client = AsyncOpenAI(api_key="sk-test-key", base_url=oa.url + "/v1", max_retries=0)
        try:
            async with aiohttp.ClientSession() as http:
                backend = ResponsesBackend(client, http if session else None, stream_idle=idle)
                conversation = await backend.create_conversation(key="D1", assistant=ASSISTANT)
                return await body(backend, conversation)
        finally:
            await client.close()

    return asyncio.run(scenario())


async def streamed(
    backend: ResponsesBackend, conversation: str, assistant: Assistant = ASSISTANT
) -> RunStream:
    started = await backend.start_run_streamed(
        conversation_id=conversation, assistant=assistant, messages=[UserMessage("Why?")]
    )
    assert isinstance(started, RunStream)
    return started


async def drain(stream: RunStream) -> list[StreamItem]:
    try:
        return [item async for item in stream]
    finally:
        await stream.aclose()


async def polled(backend: ResponsesBackend, run_id: str) -> RunState:
    return await backend.poll_run(conversation_id="", run_id=run_id, assistant=ASSISTANT)


def text_of(items: list[StreamItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def end_of(items: list[StreamItem]) -> RunState:
    assert isinstance(items[-1], StreamEnd)
    assert not [i for i in items[:-1] if isinstance(i, StreamEnd)]
    return items[-1].state


def test_deltas_come_in_order_and_join_to_the_final_text(oa: FakeOpenAI) -> None:
    oa.stream_deltas = 5

    async def body(backend: ResponsesBackend, conversation: str) -> list[StreamItem]:
        stream = await streamed(backend, conversation)
        assert stream.run_id.startswith("resp_") and stream.last_sequence == 0
        return await drain(stream)

    items = on_backend(oa, body)
    deltas = [i.text for i in items if isinstance(i, TextDelta)]
    assert len(deltas) == 5 and "".join(deltas) == ANSWER
    end = end_of(items)
    assert end.usage is not None and end.usage.output_tokens > 0  # as the terminal event said
    assert end == RunState(
        RunStatus.COMPLETED, text=ANSWER, watermark=end.watermark, usage=end.usage
    )
    (create,) = oa.calls("POST", r"^/v1/responses$")
    assert create.json["stream"] is True and create.json["background"] is True
    assert create.headers["accept"] == "text/event-stream"
    assert oa.calls("GET", r"^/v1/responses/") == []  # nothing polled


def test_a_streamed_turn_ends_exactly_as_a_polled_one_with_citations_and_files(
    oa: FakeOpenAI,
) -> None:
    analyst = Assistant(
        name="analyst", model="gpt-4o", tools=("code_interpreter", "file_search", "web_search")
    )
    oa.activity_next = ["web_search"]
    oa.citations_next = [{"filename": "handbook.pdf"}]
    oa.generated_files_next = [{"filename": "chart.png", "content": b"\x89PNG"}]

    async def body(
        backend: ResponsesBackend, conversation: str
    ) -> tuple[list[StreamItem], RunState]:
        stream = await streamed(backend, conversation, analyst)
        items = await drain(stream)
        return items, await polled(backend, stream.run_id)

    items, poll = on_backend(oa, body)
    end = end_of(items)
    assert end == poll
    assert [f.filename for f in end.files] == ["chart.png"] and "[1]" in end.text
    steps = [(i.title, i.status) for i in items if isinstance(i, ToolStep)]
    assert steps == [
        ("Searching the web", "in_progress"),
        ("Searching the web", "complete"),
        ("Searching files", "in_progress"),
        ("Searching files", "complete"),
        ("Running code", "in_progress"),
        ("Running code", "complete"),
    ]


def test_a_drop_then_a_resume_gives_exactly_the_remaining_text(oa: FakeOpenAI) -> None:
    oa.stream_deltas = 6
    oa.drop_streams_after(7)

    async def body(backend: ResponsesBackend, conversation: str) -> tuple[str, str, int]:
        stream = await streamed(backend, conversation)
        before: list[StreamItem] = []
        with pytest.raises(StreamDropped) as dropped:
            async for item in stream:
                before.append(item)
        assert dropped.value.transient and dropped.value.code == "stream_dropped"
        await stream.aclose()
        after = stream.last_sequence
        rest = await drain(await backend.resume_stream(stream.run_id, after=after))
        assert end_of(rest).status is RunStatus.COMPLETED
        return text_of(before), text_of(rest), after

    first, rest, after = on_backend(oa, body)
    assert after == 6 and first and rest
    assert first + rest == ANSWER
    calls = oa.stream_calls
    assert [(c.kind, c.starting_after, c.end) for c in calls] == [
        ("create", None, "dropped"),
        ("resume", 6, "finished"),
    ]


def test_a_refused_resume_raises_a_backend_error(oa: FakeOpenAI) -> None:
    body_404 = {"error": {"message": "gone", "type": "invalid_request_error", "code": None}}
    oa.refuse_resumes(status=404, body=body_404)

    async def body(backend: ResponsesBackend, conversation: str) -> BackendError:
        stream = await streamed(backend, conversation)
        await drain(stream)
        with pytest.raises(BackendError) as refused:
            await backend.resume_stream(stream.run_id, after=3)
        return refused.value

    error = on_backend(oa, body)
    assert not isinstance(error, StreamDropped)
    assert (error.transient, error.code) == (False, "404")


@pytest.mark.parametrize("how", ["error event", "response.failed"])
def test_an_error_event_or_a_failed_response_ends_failed_as_a_poll_says(
    oa: FakeOpenAI, how: str
) -> None:
    if how == "error event":
        oa.stream_error_after = 5
    else:
        oa.final_status = "failed"

    async def body(backend: ResponsesBackend, conversation: str) -> tuple[RunState, RunState]:
        stream = await streamed(backend, conversation)
        return end_of(await drain(stream)), await polled(backend, stream.run_id)

    end, poll = on_backend(oa, body)
    assert end == poll
    assert (end.status, end.reason) == (RunStatus.FAILED, "server_error")


def test_function_calls_end_in_requires_action_and_their_outputs_stream_on(
    oa: FakeOpenAI,
) -> None:
    oa.function_calls_next = [{"name": "lookup", "arguments": {"q": "why"}}]

    async def body(
        backend: ResponsesBackend, conversation: str
    ) -> tuple[list[StreamItem], RunState, list[StreamItem]]:
        stream = await streamed(backend, conversation)
        items = await drain(stream)
        poll = await polled(backend, stream.run_id)
        (call,) = end_of(items).tool_calls
        answered = await backend.submit_tool_outputs_streamed(
            conversation_id=conversation,
            run_id=stream.run_id,
            assistant=ASSISTANT,
            outputs=[ToolOutput(call_id=call.call_id, output="42", ok=True)],
        )
        assert isinstance(answered, RunStream)
        return items, poll, await drain(answered)

    items, poll, answer = on_backend(oa, body)
    end = end_of(items)
    assert end == poll and end.status is RunStatus.REQUIRES_ACTION
    assert [(c.name, c.arguments) for c in end.tool_calls] == [("lookup", '{"q": "why"}')]
    # The bridge runs the function and shows it itself: the stream reports no step for it.
    assert [i for i in items if isinstance(i, ToolStep)] == []
    assert end_of(answer).status is RunStatus.COMPLETED and text_of(answer) == ANSWER


def test_a_cancel_mid_stream_ends_cancelled(oa: FakeOpenAI) -> None:
    oa.stream_first_token, oa.stream_spread, oa.stream_deltas = 0.0, 2.0, 10

    async def body(backend: ResponsesBackend, conversation: str) -> list[StreamItem]:
        stream = await streamed(backend, conversation)
        items: list[StreamItem] = []
        async for item in stream:
            items.append(item)
            if isinstance(item, TextDelta) and len(items) == 1:
                await backend.cancel_run(conversation_id=conversation, run_id=stream.run_id)
        await stream.aclose()
        return items

    items = on_backend(oa, body)
    assert end_of(items).status is RunStatus.CANCELLED
    assert len(text_of(items)) < len(ANSWER)


def test_a_server_that_ignores_stream_answers_json_and_the_run_id_comes_back(
    oa: FakeOpenAI,
) -> None:
    oa.stream_ignored = True

    async def body(backend: ResponsesBackend, conversation: str) -> RunStream | str:
        return await backend.start_run_streamed(
            conversation_id=conversation, assistant=ASSISTANT, messages=[UserMessage("Hi")]
        )

    started = on_backend(oa, body)
    assert isinstance(started, str) and started.startswith("resp_")
    oa.stream_ignored = False
    without_session = on_backend(oa, body, session=False)
    assert isinstance(without_session, str)
    sent = oa.calls("POST", r"^/v1/responses$")[-1].json
    assert "stream" not in sent  # the SDK path creates exactly as today


@pytest.mark.parametrize(
    ("status", "transient", "code"),
    [(400, True, "busy"), (429, True, "rate_limit_exceeded"), (500, True, "500")],
)
def test_an_error_answer_to_the_create_is_classified_as_today(
    oa: FakeOpenAI, status: int, transient: bool, code: str
) -> None:
    locked = {
        "error": {"message": "busy", "type": "invalid_request_error", "code": "conversation_locked"}
    }
    oa.fail_next("POST", r"^/v1/responses$", status, body=locked if status == 400 else None)

    async def body(backend: ResponsesBackend, conversation: str) -> BackendError:
        with pytest.raises(BackendError) as caught:
            await streamed(backend, conversation)
        return caught.value

    error = on_backend(oa, body)
    assert (error.transient, error.code) == (transient, code)
    assert len(oa.calls("POST", r"^/v1/responses$")) == 1  # never retried


def test_a_create_whose_connection_breaks_is_a_connection_error(oa: FakeOpenAI) -> None:
    oa.drop_streams_after(0)

    async def body(backend: ResponsesBackend, conversation: str) -> BackendError:
        with pytest.raises(BackendError) as caught:
            await streamed(backend, conversation)
        return caught.value

    error = on_backend(oa, body)
    assert not isinstance(error, StreamDropped)
    assert (error.transient, error.code) == (True, "connection")
    assert len(oa.calls("POST", r"^/v1/responses$")) == 1


def test_an_idle_stream_is_dropped_within_the_idle_timeout(oa: FakeOpenAI) -> None:
    oa.stream_first_token = 5.0

    async def body(backend: ResponsesBackend, conversation: str) -> float:
        stream = await streamed(backend, conversation)
        begun = time.monotonic()
        with pytest.raises(StreamDropped):
            await drain(stream)
        return time.monotonic() - begun

    assert on_backend(oa, body, idle=0.3) < 2.0


def test_keepalive_comments_keep_a_quiet_stream_open(oa: FakeOpenAI) -> None:
    oa.stream_first_token, oa.stream_keepalive = 1.0, 0.1

    async def body(backend: ResponsesBackend, conversation: str) -> list[StreamItem]:
        return await drain(await streamed(backend, conversation))

    items = on_backend(oa, body, idle=0.4)
    assert end_of(items).status is RunStatus.COMPLETED and text_of(items) == ANSWER


def test_reasoning_summaries_become_thinking_steps_with_their_text(oa: FakeOpenAI) -> None:
    oa.reasoning_summary_next = "First I look. Then I answer."
    oa.stream_deltas = 3

    async def body(backend: ResponsesBackend, conversation: str) -> list[StreamItem]:
        # The bridge does not ask for summaries (yet); the SDK creates a response that does,
        # and the bridge reads its stream from the start.
        sdk = openai.AsyncOpenAI(api_key="sk-test-key", base_url=oa.url + "/v1")
        events = await sdk.responses.create(
            model="gpt-4o",
            input="Why?",
            background=True,
            stream=True,
            reasoning={"summary": "auto"},
        )
        first = await events.__anext__()
        assert first.type == "response.created"
        await events.close()
        await sdk.close()
        return await drain(await backend.resume_stream(first.response.id, after=-1))

    items = on_backend(oa, body)
    thinking = [i for i in items if isinstance(i, ToolStep)]
    assert {i.title for i in thinking} == {"Thinking"}
    assert thinking[-1].status == "complete"
    assert thinking[-1].detail == "First I look. Then I answer."
    growing = [i.detail for i in thinking[1:-1]]
    assert len(growing) == 3 and growing[-1] == thinking[-1].detail
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(growing))
    assert text_of(items) == ANSWER
