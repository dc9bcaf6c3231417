"""The fake OpenAI server driven through the real openai SDK clients."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from openai.types.beta.threads import Run
from openai.types.responses import Response

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.openai_store import ReplyContext

DEADLINE = 5.0
pytestmark = pytest.mark.filterwarnings("ignore:The Assistants API is deprecated")


def client(oa: FakeOpenAI, max_retries: int = 2) -> openai.OpenAI:
    return openai.OpenAI(base_url=oa.url + "/v1", api_key="sk-test", max_retries=max_retries)


def finish(sdk: openai.OpenAI, response: Response) -> Response:
    deadline = time.monotonic() + DEADLINE
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"response still {response.status}"
        time.sleep(0.01)
        response = sdk.responses.retrieve(response.id)
    return response


def finish_run(sdk: openai.OpenAI, run: Run) -> Run:
    deadline = time.monotonic() + DEADLINE
    while run.status in ("queued", "in_progress", "cancelling"):
        assert time.monotonic() < deadline, f"run still {run.status}"
        time.sleep(0.01)
        run = sdk.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    return run


def ask(sdk: openai.OpenAI, conversation_id: str, text: str) -> Response:
    created = sdk.responses.create(
        model="gpt-5-mini",
        input=text,
        instructions="Be brief.",
        conversation=conversation_id,
        background=True,
        store=True,
    )
    assert created.status == "queued"
    return finish(sdk, created)


def test_background_responses_remember_the_conversation(oa: FakeOpenAI) -> None:
    sdk = client(oa)
    conversation = sdk.conversations.create(metadata={"slack": "user:T0TEST/U1"})
    first = ask(sdk, conversation.id, "hello")
    second = ask(sdk, conversation.id, "again")
    assert first.output_text == "echo: hello (turn 1)"
    assert second.output_text == "echo: again (turn 2)"
    assert second.conversation is not None and second.conversation.id == conversation.id
    assert second.usage is not None and second.usage.total_tokens > 0
    items = sdk.conversations.items.list(conversation.id, order="asc")
    assert [(i.type, getattr(i, "role", None)) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
    ] * 2
    assert len(oa.conversation_items(conversation.id)) == 4
    assert [body["input"] for body in oa.responses_created()] == ["hello", "again"]


def test_second_response_on_a_busy_conversation_is_locked(oa: FakeOpenAI) -> None:
    sdk = client(oa)
    conversation = sdk.conversations.create()
    oa.latency = 30.0
    first = sdk.responses.create(
        model="gpt-5-mini", input="one", conversation=conversation.id, background=True
    )
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.responses.create(
            model="gpt-5-mini", input="two", conversation=conversation.id, background=True
        )
    assert caught.value.code == "conversation_locked"
    assert len(oa.calls("POST", r"^/v1/responses$")) == 2  # a 400 is not retried
    assert sdk.responses.cancel(first.id).status == "cancelled"
    oa.latency = 0.05
    assert ask(sdk, conversation.id, "three").output_text == "echo: three (turn 1)"


def test_assistants_thread_message_run_round_trip(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_test", instructions="You are terse.")
    sdk = client(oa)
    thread = sdk.beta.threads.create()
    sdk.beta.threads.messages.create(thread.id, role="user", content="hi")
    oa.latency = 0.5  # long enough to hit the active run, short enough to wait for
    run = sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_test")
    assert run.status == "queued" and run.instructions == "You are terse."
    with pytest.raises(openai.BadRequestError, match="Can't add messages to thread_"):
        sdk.beta.threads.messages.create(thread.id, role="user", content="too soon")
    with pytest.raises(openai.BadRequestError, match="already has an active run"):
        sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_test")
    assert finish_run(sdk, run).status == "completed"
    replies = sdk.beta.threads.messages.list(thread.id, run_id=run.id)
    texts = [part.text.value for m in replies for part in m.content if part.type == "text"]
    assert texts == ["echo: hi (turn 1)"]
    assert replies.data[0].assistant_id == "asst_test"
    with pytest.raises(openai.NotFoundError):
        sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_unknown")


def test_rate_limit_with_retry_after_is_retried_by_the_sdk(oa: FakeOpenAI) -> None:
    oa.fail_next("POST", r"^/v1/conversations$", 429, headers={"Retry-After": "1"})
    conversation = client(oa, max_retries=2).conversations.create()
    assert conversation.id.startswith("conv_")
    assert len(oa.calls("POST", r"^/v1/conversations$")) == 2


def test_dropped_connection_is_retried_and_errors_surface_typed(oa: FakeOpenAI) -> None:
    oa.drop_next("GET", r"^/v1/models$")
    assert "gpt-5-mini" in [model.id for model in client(oa).models.list()]
    oa.fail_next("*", r"/v1/models", 400, times=1)
    with pytest.raises(openai.BadRequestError):
        client(oa).models.retrieve("gpt-5")
    with pytest.raises(openai.NotFoundError):
        client(oa).files.list()


def test_function_calls_then_outputs_complete_the_turn(oa: FakeOpenAI) -> None:
    sdk = client(oa)
    conversation = sdk.conversations.create()
    oa.function_calls_next = [{"name": "lookup", "arguments": {"q": "x"}}]
    calling = ask(sdk, conversation.id, "use the tool")
    call = calling.output[0]
    assert call.type == "function_call" and call.name == "lookup"
    answer = finish(
        sdk,
        sdk.responses.create(
            model="gpt-5-mini",
            conversation=conversation.id,
            background=True,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "42"}],
        ),
    )
    assert answer.output_text == "echo:  (turn 2)"
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        sdk.responses.create(
            model="gpt-5-mini",
            conversation=conversation.id,
            input=[{"type": "function_call_output", "call_id": "call_nope", "output": "1"}],
        )


def test_run_requires_action_until_tool_outputs_are_submitted(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_tools")
    sdk = client(oa)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    oa.function_calls_next = [{"name": "weather", "arguments": "{}"}]
    run = finish_run(
        sdk, sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_tools")
    )
    assert run.status == "requires_action" and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    run = sdk.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": calls[0].id, "output": "sunny"}]
    )
    assert finish_run(sdk, run).status == "completed"
    assert oa.thread_messages(thread.id)[-1]["content"][0]["text"]["value"] == (
        "echo: weather? (turn 1)"
    )


def test_final_status_responder_and_cancel_knobs(oa: FakeOpenAI) -> None:
    sdk = client(oa)
    seen: list[ReplyContext] = []

    def responder(context: ReplyContext) -> str:
        seen.append(context)
        return "custom"

    oa.responder = responder
    conversation = sdk.conversations.create()
    assert ask(sdk, conversation.id, "a").output_text == "custom"
    assert seen[0].instructions == "Be brief." and seen[0].user_texts == ["a"]
    oa.final_status = "failed"
    failed = ask(sdk, conversation.id, "b")
    assert failed.status == "failed" and failed.error is not None
    oa.final_status, oa.latency = None, 5.0
    pending = sdk.responses.create(model="gpt-5-mini", input="c", background=True)
    assert sdk.responses.cancel(pending.id).status == "cancelled"


def test_async_client_and_blocking_create(oa: FakeOpenAI) -> None:
    async def scenario() -> str:
        sdk = openai.AsyncOpenAI(base_url=oa.url + "/v1", api_key="sk-test")
        response = await sdk.responses.create(model="gpt-4.1", input="sync please")
        return response.output_text

    assert asyncio.run(scenario()) == "echo: sync please (turn 1)"
