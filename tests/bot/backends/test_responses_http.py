"""The Responses backend's create and status poll run on plain aiohttp (not the SDK) when the
process gives it a session: the same requests, answers, headers and error classes as the SDK
path, against the fake OpenAI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends.base import RunState, RunStatus, UserMessage
from bot.backends.responses import ResponsesBackend
from bot.errors import BackendError
from tests.fakes.openai_api import FakeOpenAI

T = TypeVar("T")
ASSISTANT = Assistant(name="helper", model="gpt-4o", instructions="Be brief.")
POLL = r"^/v1/responses/resp_[^/]+$"


@pytest.fixture
def oa() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.latency = 1.0
        yield fake


def on_backend(
    oa: FakeOpenAI,
    body: Callable[[ResponsesBackend, str], Awaitable[T]],
    *,
    reader: bool = True,
    organization: str | None = None,
    project: str | None = None,
) -> T:
    """Hand a Responses backend (plain calls on `reader`, else the SDK's) and a fresh
    conversation's id to `body`."""

    async def scenario() -> T:
        client = AsyncOpenAI(
            api_key="sk-test-key",
            base_url=oa.url + "/v1",
            organization=organization,
            project=project,
            max_retries=0,
        )
        try:
            async with aiohttp.ClientSession() as http:
                backend = ResponsesBackend(client, http if reader else None)
                conversation = await backend.create_conversation(key="D1", assistant=ASSISTANT)
                return await body(backend, conversation)
        finally:
            await client.close()

    return asyncio.run(scenario())


async def start(
    backend: ResponsesBackend, conversation: str, assistant: Assistant = ASSISTANT, text: str = "Hi"
) -> str:
    return await backend.start_run(
        conversation_id=conversation, assistant=assistant, messages=[UserMessage(text)]
    )


def with_backend(
    oa: FakeOpenAI,
    body: Callable[[ResponsesBackend, str], Awaitable[T]],
    **options: Any,
) -> T:
    """Start a run on a fresh conversation, then hand the backend and the run id to `body`."""

    async def started(backend: ResponsesBackend, conversation: str) -> T:
        return await body(backend, await start(backend, conversation, text="What is 2+2?"))

    return on_backend(oa, started, **options)


async def poll(backend: ResponsesBackend, run_id: str) -> RunState:
    return await backend.poll_run(conversation_id="", run_id=run_id, assistant=ASSISTANT)


async def poll_until_done(backend: ResponsesBackend, run_id: str) -> list[RunState]:
    states = [await poll(backend, run_id)]
    while states[-1].status is RunStatus.RUNNING:
        await asyncio.sleep(0.05)
        states.append(await poll(backend, run_id))
        assert len(states) < 200, "the run never finished"
    return states


@pytest.mark.parametrize("reader", [True, False], ids=["aiohttp", "sdk"])
def test_polls_follow_the_run_to_its_answer_on_either_path(oa: FakeOpenAI, reader: bool) -> None:
    oa.responder = lambda ctx: f"Echo: {ctx.user_texts[-1]}"
    states = with_backend(oa, poll_until_done, reader=reader)
    assert states[0].status is RunStatus.RUNNING
    assert states[-1].status is RunStatus.COMPLETED
    assert states[-1].text == "Echo: What is 2+2?"
    polls = oa.calls("GET", POLL)
    assert len(polls) == len(states)
    assert all(
        p.headers["user-agent"].startswith("slack-assistant-bridge") is reader for p in polls
    )


def test_the_poll_sends_the_clients_key_organization_and_project(oa: FakeOpenAI) -> None:
    with_backend(oa, poll, organization="org-abc", project="proj_xyz")
    (got,) = oa.calls("GET", POLL)
    assert got.headers["authorization"] == "Bearer sk-test-key"
    assert got.headers["openai-organization"] == "org-abc"
    assert got.headers["openai-project"] == "proj_xyz"
    assert got.headers["user-agent"].startswith("slack-assistant-bridge AsyncOpenAI/Python")


def test_the_poll_sends_no_organization_or_project_when_none_is_set(oa: FakeOpenAI) -> None:
    with_backend(oa, poll)
    (got,) = oa.calls("GET", POLL)
    assert got.headers["authorization"] == "Bearer sk-test-key"
    assert "openai-organization" not in got.headers
    assert "openai-project" not in got.headers


@pytest.mark.parametrize(
    ("status", "transient", "code"),
    [
        (404, False, "404"),
        (401, False, "invalid_api_key"),
        (429, True, "rate_limit_exceeded"),
        (500, True, "500"),
        (503, True, "503"),
    ],
)
def test_error_answers_are_classified_as_on_the_sdk_path(
    oa: FakeOpenAI, status: int, transient: bool, code: str
) -> None:
    async def failing_poll(backend: ResponsesBackend, run_id: str) -> BackendError:
        oa.fail_next("GET", POLL, status)
        with pytest.raises(BackendError) as caught:
            await poll(backend, run_id)
        return caught.value

    error = with_backend(oa, failing_poll)
    assert (error.transient, error.code) == (transient, code)
    assert str(error).startswith(str(status))


def test_a_dropped_connection_is_a_transient_error_and_the_next_poll_works(
    oa: FakeOpenAI,
) -> None:
    async def dropped_then_fine(backend: ResponsesBackend, run_id: str) -> RunState:
        # aiohttp itself retries a GET once when a kept-alive connection was closed.
        oa.drop_next("GET", POLL, times=2)
        with pytest.raises(BackendError) as caught:
            await poll(backend, run_id)
        assert caught.value.transient
        assert caught.value.code == "connection"
        return await poll(backend, run_id)

    state = with_backend(oa, dropped_then_fine)
    assert state.status in (RunStatus.RUNNING, RunStatus.COMPLETED)


def test_an_unreachable_server_is_a_transient_error() -> None:
    async def scenario() -> BackendError:
        client = AsyncOpenAI(api_key="sk-test-key", base_url="http://127.0.0.1:9/v1")
        async with aiohttp.ClientSession() as http:
            with pytest.raises(BackendError) as caught:
                await poll(ResponsesBackend(client, http), "resp_nowhere")
        await client.close()
        return caught.value

    error = asyncio.run(scenario())
    assert (error.transient, error.code) == (True, "connection")


@pytest.mark.parametrize("reader", [True, False], ids=["aiohttp", "sdk"])
def test_the_create_sends_the_same_request_on_either_path(oa: FakeOpenAI, reader: bool) -> None:
    tools_assistant = Assistant(
        name="analyst",
        model="gpt-4.1",
        instructions="Use tools.",
        tools=("web_search",),
        temperature=0.2,
        reasoning="low",
    )

    async def create(backend: ResponsesBackend, conversation: str) -> str:
        return await start(backend, conversation, tools_assistant, "Find the news.")

    run_id = on_backend(oa, create, reader=reader)
    (sent,) = oa.calls("POST", r"^/v1/responses$")
    assert sent.headers["authorization"] == "Bearer sk-test-key"
    assert sent.headers["content-type"].startswith("application/json")
    # Which path sent it: the bridge's plain call names itself, the SDK does not.
    assert sent.headers["user-agent"].startswith("slack-assistant-bridge") is reader
    assert sent.json == {
        "model": "gpt-4.1",
        "input": [{"role": "user", "content": "Find the news."}],
        "conversation": sent.json["conversation"],
        "background": True,
        "store": True,
        "instructions": "Use tools.",
        "tools": [{"type": "web_search"}],
        "temperature": 0.2,
        "reasoning": {"effort": "low", "summary": "auto"},
        # The default `context = "compact"`: compaction, and truncation as its backstop.
        "context_management": [{"type": "compaction", "compact_threshold": 100_000}],
        "truncation": "auto",
    }
    assert sent.json["conversation"].startswith("conv_")
    assert run_id.startswith("resp_")


@pytest.mark.parametrize(
    ("status", "body", "transient", "code"),
    [
        (
            400,
            {"error": {"message": "Invalid model.", "code": "model_not_found"}},
            False,
            "model_not_found",
        ),
        (
            400,
            {
                "error": {
                    "message": "Another response is in progress.",
                    "code": "conversation_locked",
                }
            },
            True,
            "busy",
        ),
        (429, None, True, "rate_limit_exceeded"),
        (500, None, True, "500"),
    ],
)
def test_create_errors_are_classified_as_on_the_sdk_path(
    oa: FakeOpenAI, status: int, body: dict[str, object] | None, transient: bool, code: str
) -> None:
    async def failing_create(backend: ResponsesBackend, conversation: str) -> BackendError:
        oa.fail_next("POST", r"^/v1/responses$", status, body=body)
        with pytest.raises(BackendError) as caught:
            await start(backend, conversation)
        return caught.value

    plain = on_backend(oa, failing_create, reader=True)
    sdk = on_backend(oa, failing_create, reader=False)
    assert (plain.transient, plain.code, str(plain)) == (sdk.transient, sdk.code, str(sdk))
    assert plain.transient is transient
    assert plain.code == code


def test_a_run_id_cannot_leave_the_responses_path(oa: FakeOpenAI) -> None:
    async def odd_id(backend: ResponsesBackend, run_id: str) -> BackendError:
        with pytest.raises(BackendError) as caught:
            await poll(backend, "../models")
        return caught.value

    error = with_backend(oa, odd_id)
    assert (error.transient, error.code) == (False, "404")
    assert not oa.calls("GET", r"^/v1/models")
