"""The Agents API backend (bot/backends/agents.py) through a real SDK client and aiohttp
session against the fake OpenAI: sessions created with their first input, turns found and
polled, idempotent sends, function rounds, approvals declined, artifacts, recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import TypeVar

import aiohttp
import pytest
from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends.agents import NEW_SESSION, AgentsBackend
from bot.backends.base import RunState, RunStatus, TurnBrief, UserMessage
from bot.backends.streams import StreamEnd, StreamItem, TextDelta
from bot.errors import BackendError
from bot.functions.calls import ToolOutput
from tests.fakes.openai_api import FakeOpenAI

T = TypeVar("T")
ANSWER = "Forty two, for reasons."


@pytest.fixture
def oa() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.latency = 0.2
        fake.responder = lambda ctx: (
            ANSWER if len(ctx.user_texts) == 1 else " + ".join(ctx.user_texts)
        )
        yield fake
        assert fake.server_errors() == []


@pytest.fixture
def agent(oa: FakeOpenAI) -> Assistant:
    saved = oa.add_agent(model="gpt-5-mini", instructions="Be brief.")
    return Assistant(name="worker", agent_id=saved["id"], is_agent=True)


def on_backend(
    oa: FakeOpenAI, body: Callable[[AgentsBackend], Awaitable[T]], *, session: bool = True
) -> T:
    async def scenario() -> T:
        client = AsyncOpenAI(api_key="sk-test-key", base_url=oa.url + "/v1", max_retries=0)
        try:
            async with aiohttp.ClientSession() as http:
                backend = AgentsBackend(client, http if session else None, stream_idle=5.0)
                return await body(backend)
        finally:
            await client.close()

    return asyncio.run(scenario())


async def settled(
    backend: AgentsBackend, session: str, turn: str, assistant: Assistant
) -> RunState:
    deadline = time.monotonic() + 10
    while True:
        state = await backend.poll_run(conversation_id=session, run_id=turn, assistant=assistant)
        if state.status is not RunStatus.RUNNING:
            return state
        assert time.monotonic() < deadline, "the turn never ended"
        await asyncio.sleep(0.05)


async def drained(stream: AsyncIterable[StreamItem]) -> tuple[str, RunState]:
    """The text a stream gave, and the state it ended with."""
    text, end = "", None
    async for item in stream:
        if isinstance(item, TextDelta):
            text += item.text
        elif isinstance(item, StreamEnd):
            end = item.state
    assert end is not None, "the stream never ended"
    return text, end


def brief(turn: int, after: str | None = None) -> TurnBrief:
    return TurnBrief(request_key=f"assistant-bridge-turn-{turn}", after=after)


async def first_turn(backend: AgentsBackend, assistant: Assistant, text: str) -> tuple[str, str]:
    placeholder = await backend.create_conversation(key="D1", assistant=assistant)
    assert placeholder.startswith(NEW_SESSION)
    turn = await backend.start_run(
        conversation_id=placeholder,
        assistant=assistant,
        messages=[UserMessage(text)],
        brief=brief(1),
    )
    session = backend.settled_conversation(placeholder)
    assert session is not None and backend.settled_conversation(placeholder) is None
    return session, turn


def test_a_session_is_created_with_its_first_input_and_later_turns_reuse_it(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    async def body(backend: AgentsBackend) -> None:
        session, turn = await first_turn(backend, agent, "what is six times seven?")
        state = await settled(backend, session, turn, agent)
        assert (state.status, state.text, state.watermark) == (RunStatus.COMPLETED, ANSWER, turn)
        assert state.usage is not None and state.usage.model == "gpt-5-mini"
        second = await backend.start_run(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("and again?")],
            brief=brief(2, after=turn),
        )
        assert second != turn
        assert (await settled(backend, session, second, agent)).text == ANSWER

    on_backend(oa, body)
    [session] = oa.agent_sessions()
    assert session["request"]["environment"] == {"type": "none"}, "no sandbox unless asked"
    assert session["request"]["agent_id"] == oa.agents()[0]["id"]
    assert len(oa.agent_turns(session["id"])) == 2


def test_a_repeated_send_under_the_same_key_starts_no_second_turn(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    async def body(backend: AgentsBackend) -> tuple[str, str, str]:
        session, turn = await first_turn(backend, agent, "hello")
        await settled(backend, session, turn, agent)
        messages = [UserMessage("once only")]
        again = [
            await backend.start_run(
                conversation_id=session, assistant=agent, messages=messages, brief=brief(2, turn)
            )
            for _ in range(2)
        ]
        return session, again[0], again[1]

    session, first, repeat = on_backend(oa, body)
    assert first == repeat
    assert len(oa.agent_turns(session)) == 2
    posts = [p for p in oa.agent_event_posts() if p.events[0]["type"].endswith(".message")]
    assert [p.replay for p in posts] == [False, True]
    assert posts[0].idempotency_key == posts[1].idempotency_key
    assert "assistant-bridge-turn-2" in (posts[0].idempotency_key or "")


def test_function_calls_are_answered_on_the_same_turn(oa: FakeOpenAI, agent: Assistant) -> None:
    oa.function_calls_next = [{"name": "add", "arguments": '{"a": 2, "b": 3}'}]
    oa.responder = lambda ctx: "outputs: " + " | ".join(ctx.tool_outputs)

    async def body(backend: AgentsBackend) -> RunState:
        session, turn = await first_turn(backend, agent, "2 + 3?")
        waiting = await settled(backend, session, turn, agent)
        assert waiting.status is RunStatus.REQUIRES_ACTION
        [call] = waiting.tool_calls
        assert call.name == "add" and '"a": 2' in call.arguments
        outputs = [ToolOutput(call.call_id, "5", ok=True)]
        for _ in range(2):  # a retried submit is the same submit
            same = await backend.submit_tool_outputs(
                conversation_id=session, run_id=turn, assistant=agent, outputs=outputs
            )
            assert same == turn
        return await settled(backend, session, turn, agent)

    done = on_backend(oa, body)
    assert (done.status, done.text) == (RunStatus.COMPLETED, "outputs: 5")
    results = [p for p in oa.agent_event_posts() if "tool_result" in p.events[0]["type"]]
    assert [p.replay for p in results] == [False, True]


def test_an_approval_request_is_declined_and_the_answer_says_so(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    oa.agent_approvals_next = [{"server_label": "crm", "name": "delete_all", "arguments": {}}]

    async def body(backend: AgentsBackend) -> RunState:
        session, turn = await first_turn(backend, agent, "clean up the CRM")
        return await settled(backend, session, turn, agent)

    state = on_backend(oa, body)
    assert state.status is RunStatus.COMPLETED
    assert "approval to use crm" in state.text and "declined" in state.text
    [deny] = [p for p in oa.agent_event_posts() if "approval" in p.events[0]["type"]]
    assert deny.events[0]["response"]["decision"] == "deny"


def test_artifacts_of_the_turn_become_files_with_their_bytes(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    oa.agent_artifacts_next = [{"path": "/workspace/outputs/report.csv", "content": b"a,b\n1,2\n"}]
    # Only a hosted environment publishes artifacts (files under /workspace/outputs).
    hosted = replace(agent, environment_json='{"type": "openai_hosted"}')

    async def body(backend: AgentsBackend) -> tuple[RunState, bytes]:
        session, turn = await first_turn(backend, hosted, "make a report")
        state = await settled(backend, session, turn, hosted)
        [file] = state.files
        return state, await backend.download_file(file, max_bytes=1000)

    state, data = on_backend(oa, body)
    assert [f.filename for f in state.files] == ["report.csv"]
    assert data == b"a,b\n1,2\n"


def test_a_failed_and_a_cancelled_turn(oa: FakeOpenAI, agent: Assistant) -> None:
    oa.agent_turn_error_next = {"code": "usage_limit_exceeded", "message": "Over the limit."}

    async def body(backend: AgentsBackend) -> tuple[RunState, RunState]:
        session, turn = await first_turn(backend, agent, "fail please")
        failed = await settled(backend, session, turn, agent)
        oa.latency = 5.0
        second = await backend.start_run(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("long one")],
            brief=brief(2, turn),
        )
        await backend.cancel_run(conversation_id=session, run_id=second)
        return failed, await settled(backend, session, second, agent)

    failed, cancelled = on_backend(oa, body)
    assert (failed.status, failed.reason) == (RunStatus.FAILED, "usage_limit_exceeded")
    assert cancelled.status is RunStatus.CANCELLED


def test_recovery_finds_a_session_and_a_turn_whose_answers_were_lost(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    async def body(backend: AgentsBackend) -> None:
        placeholder = await backend.create_conversation(key="D1", assistant=agent)
        assert await backend.recover_run(conversation_id=placeholder, watermark=None) is None
        oa.lose_answer_next("POST", r"/v1/agents/sessions")
        with pytest.raises(BackendError):
            await backend.start_run(
                conversation_id=placeholder,
                assistant=agent,
                messages=[UserMessage("lost")],
                brief=brief(1),
            )
        found = await backend.recover_run(conversation_id=placeholder, watermark=None)
        session = backend.settled_conversation(placeholder)
        assert session is not None
        assert isinstance(found, str | RunState)
        turn = found if isinstance(found, str) else found.watermark
        assert turn is not None
        await settled(backend, session, turn, agent)
        # The same for a later turn: its send's answer lost, the turn is found, not resent.
        oa.lose_answer_next("POST", r"/v1/agents/sessions/[^/]+/events")
        with pytest.raises(BackendError):
            await backend.start_run(
                conversation_id=session,
                assistant=agent,
                messages=[UserMessage("lost too")],
                brief=brief(2, turn),
            )
        again = await backend.recover_run(conversation_id=session, watermark=turn)
        assert again is not None and again != turn
        assert await backend.recover_run(conversation_id=session, watermark=turn) is not None

    on_backend(oa, body)
    [session] = oa.agent_sessions()
    assert len(oa.agent_turns(session["id"])) == 2, "one turn per input, none repeated"


def test_a_streamed_turn_gives_its_text_and_ends_as_a_poll_does(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    oa.latency = 0.6

    async def body(backend: AgentsBackend) -> tuple[str, RunState, RunState]:
        session, turn = await first_turn(backend, agent, "hello")
        await settled(backend, session, turn, agent)
        stream = await backend.start_run_streamed(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("stream it")],
            brief=brief(2, turn),
        )
        assert not isinstance(stream, str)
        text, end = await drained(stream)
        polled = await backend.poll_run(
            conversation_id=session, run_id=stream.run_id, assistant=agent
        )
        return text, end, polled

    text, end, polled = on_backend(oa, body)
    assert text == ANSWER
    assert end == polled and end.text == ANSWER


def test_functions_are_added_to_the_session_when_the_saved_agent_lacks_them(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    from bot.functions.registry import load_functions

    functions = tuple(load_functions(["tests.e2e.tool_functions:add"]).values())
    with_functions = replace(
        agent, callables=functions, functions=("tests.e2e.tool_functions:add",)
    )

    async def body(backend: AgentsBackend) -> None:
        await first_turn(backend, with_functions, "hi")

    on_backend(oa, body)
    [session] = oa.agent_sessions()
    [tool] = session["request"]["agent"]["tools"]
    assert (tool["type"], tool["name"]) == ("function", "add")
    assert tool["parameters"]["required"] == ["a", "b"]


def test_a_dropped_session_stream_is_opened_again_and_ends_as_a_poll_does(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    from bot.backends.streams import StreamDropped

    oa.latency = 1.0
    oa.agent_deltas = 10
    oa.responder = lambda ctx: " ".join(f"w{i}" for i in range(30))

    async def body(backend: AgentsBackend) -> tuple[str, RunState, RunState]:
        session, turn = await first_turn(backend, agent, "hello")
        await settled(backend, session, turn, agent)
        oa.drop_agent_streams_after(4)
        stream = await backend.start_run_streamed(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("stream it")],
            brief=brief(2, turn),
        )
        assert not isinstance(stream, str)
        text = ""
        with pytest.raises(StreamDropped):
            async for item in stream:
                if isinstance(item, TextDelta):
                    text += item.text
        resumed = await backend.resume_stream(stream.run_id, after=stream.last_sequence)
        rest, end = await drained(resumed)
        text += rest
        polled = await backend.poll_run(
            conversation_id=session, run_id=stream.run_id, assistant=agent
        )
        return text, end, polled

    text, end, polled = on_backend(oa, body)
    assert end == polled and end.status is RunStatus.COMPLETED
    # Streams replay nothing: what was said while no stream was open is only in the end.
    assert end.text.startswith("w0 w1") and end.text.endswith("w29")
    assert len(text) <= len(end.text)


def test_a_resume_after_the_turn_ended_yields_the_end_at_once(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    async def body(backend: AgentsBackend) -> RunState:
        session, turn = await first_turn(backend, agent, "hello")
        await settled(backend, session, turn, agent)
        stream = await backend.start_run_streamed(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("quick")],
            brief=brief(2, turn),
        )
        assert not isinstance(stream, str)
        await stream.aclose()
        await settled(backend, session, stream.run_id, agent)
        resumed = await backend.resume_stream(stream.run_id, after=-1)
        items = [item async for item in resumed]
        assert len(items) == 1 and isinstance(items[0], StreamEnd)
        return items[0].state

    assert on_backend(oa, body).text == ANSWER


def test_without_an_aiohttp_session_the_reads_go_through_the_sdk_alike(
    oa: FakeOpenAI, agent: Assistant
) -> None:
    oa.function_calls_next = [{"name": "add", "arguments": '{"a": 1, "b": 1}'}]

    async def body(backend: AgentsBackend) -> list[RunState]:
        session, turn = await first_turn(backend, agent, "1 + 1?")
        waiting = await settled(backend, session, turn, agent)
        [call] = waiting.tool_calls
        outputs = [ToolOutput(call.call_id, "2", ok=True)]
        await backend.submit_tool_outputs(
            conversation_id=session, run_id=turn, assistant=agent, outputs=outputs
        )
        done = await settled(backend, session, turn, agent)
        streamed = await backend.start_run_streamed(
            conversation_id=session,
            assistant=agent,
            messages=[UserMessage("x")],
            brief=brief(2, turn),
        )
        assert isinstance(streamed, str), "no session: no stream, the turn is polled"
        return [waiting, done, await settled(backend, session, streamed, agent)]

    waiting, done, second = on_backend(oa, body, session=False)
    assert waiting.status is RunStatus.REQUIRES_ACTION
    assert (done.status, done.text) == (RunStatus.COMPLETED, ANSWER)
    assert done.usage is not None and done.usage.model == "gpt-5-mini"
    assert (second.status, second.text) == (RunStatus.COMPLETED, ANSWER)
