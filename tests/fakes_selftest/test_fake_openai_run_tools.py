"""Assistants runs of the fake OpenAI: tool rounds, generated files, citations, run steps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import pytest
from openai.types.beta.threads import Run

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.openai_store import ReplyContext
from tests.fakes_selftest.test_fake_openai_tools import DEADLINE, scenario

pytestmark = pytest.mark.filterwarnings("ignore:The Assistants API is deprecated")
Sdk = openai.AsyncOpenAI


async def settle(sdk: Sdk, run: Run) -> Run:
    deadline = time.monotonic() + DEADLINE
    while run.status in ("queued", "in_progress", "cancelling"):
        assert time.monotonic() < deadline, f"run still {run.status}"
        await asyncio.sleep(0.01)
        run = await sdk.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    return run


async def start(sdk: Sdk, content: Any, **extra: Any) -> Run:
    thread = await sdk.beta.threads.create()
    message: Any = {"role": "user", "content": content, **extra}
    return await sdk.beta.threads.runs.create(
        thread_id=thread.id, assistant_id="asst_t", additional_messages=[message]
    )


async def submit(sdk: Sdk, run: Run, *answers: str) -> Run:
    assert run.status == "requires_action" and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    given: Any = [{"tool_call_id": c.id, "output": a} for c, a in zip(calls, answers, strict=True)]
    run = await sdk.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=run.thread_id, tool_outputs=given
    )
    return await settle(sdk, run)


def test_run_rounds_validate_submissions_and_echo_outputs(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_t")
    oa.responder = lambda context: "got " + ",".join(context.tool_outputs)
    oa.function_call_rounds_next = [
        [{"name": "a", "arguments": "{}"}, {"name": "b", "arguments": "{}"}],
        [{"name": "c", "arguments": "{}"}],
    ]

    async def body(sdk: Sdk) -> None:
        run = await settle(sdk, await start(sdk, "go"))
        assert run.required_action is not None
        calls = run.required_action.submit_tool_outputs.tool_calls
        assert [c.function.name for c in calls] == ["a", "b"]
        with pytest.raises(openai.BadRequestError, match="Expected tool outputs"):
            await sdk.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": calls[0].id}]
            )
        run = await submit(sdk, run, "A", "B")
        assert run.required_action is not None
        assert run.required_action.submit_tool_outputs.tool_calls[0].function.name == "c"
        run = await submit(sdk, run, "C")
        assert run.status == "completed"
        with pytest.raises(openai.BadRequestError, match='Runs in status "completed" do not'):
            await sdk.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=run.thread_id, tool_outputs=[]
            )
        steps = [s async for s in sdk.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)]
        kinds = [(s.type, s.status) for s in reversed(steps)]
        assert kinds == [("tool_calls", "completed")] * 2 + [("message_creation", "completed")]
        first = steps[-1].step_details
        assert first.type == "tool_calls" and first.tool_calls[0].type == "function"
        assert first.tool_calls[0].function.output == "A"
        messages = await sdk.beta.threads.messages.list(run.thread_id, run_id=run.id)
        part = messages.data[0].content[0]
        assert part.type == "text" and part.text.value == "got A,B,C"

    scenario(oa, body)


def test_run_forever_calls_until_cleared(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_t")
    oa.function_calls_forever = [{"name": "loop", "arguments": "{}"}]

    async def body(sdk: Sdk) -> None:
        run = await settle(sdk, await start(sdk, "go"))
        for _ in range(3):
            run = await submit(sdk, run, "again")
        oa.function_calls_forever = None
        assert (await submit(sdk, run, "stop")).status == "completed"

    scenario(oa, body)


def test_run_generated_files_and_citations(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_t", tools=[{"type": "code_interpreter"}, {"type": "file_search"}])
    oa.responder = lambda context: "Done. See below."
    oa.generated_files_next = [
        {"filename": "plot.png", "content": b"\x89PNG"},
        {"filename": "out.csv", "content": b"1,2\n"},
    ]
    oa.citations_next = [{"filename": "guide.pdf"}]
    cited = oa.citations_next[0]["file_id"]

    async def body(sdk: Sdk) -> None:
        run = await settle(sdk, await start(sdk, "make files"))
        assert run.status == "completed"
        message = (await sdk.beta.threads.messages.list(run.thread_id, run_id=run.id)).data[0]
        image, text = message.content
        assert image.type == "image_file" and image.image_file.detail is None
        picture = await sdk.files.content(image.image_file.file_id)
        assert picture.content == b"\x89PNG"
        assert text.type == "text"
        value = text.text.value
        citation, path = text.text.annotations
        assert citation.type == "file_citation" and citation.file_citation.file_id == cited
        assert value[citation.start_index : citation.end_index] == citation.text == "【4:0†source】"
        assert value.startswith("Done.【4:0†source】 See below.")
        assert path.type == "file_path" and path.text == "sandbox:/mnt/data/out.csv"
        assert value[path.start_index : path.end_index] == path.text
        csv = await sdk.files.retrieve(path.file_path.file_id)
        assert (csv.filename, csv.purpose) == ("out.csv", "assistants_output")
        assert (await sdk.files.content(csv.id)).content == b"1,2\n"
        steps = [s async for s in sdk.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)]
        tool_step = steps[-1].step_details
        assert tool_step.type == "tool_calls"
        assert [c.type for c in tool_step.tool_calls] == ["file_search", "code_interpreter"]

    scenario(oa, body)


def test_run_activity_steps_and_attachments(oa: FakeOpenAI) -> None:
    oa.add_assistant("asst_t")
    seen: list[ReplyContext] = []

    def responder(context: ReplyContext) -> str:
        seen.append(context)
        return "ok"

    oa.responder = responder
    doc, pic = oa.add_file("doc.pdf", b"%PDF"), oa.add_file("pic.png", b"png")
    oa.activity_next = ["code_interpreter", "web_search"]
    oa.latency = 1.0

    async def body(sdk: Sdk) -> None:
        with pytest.raises(openai.BadRequestError, match="No such File object"):
            await start(sdk, "x", attachments=[{"file_id": "file-nope", "tools": []}])
        content: Any = [
            {"type": "text", "text": "look"},
            {"type": "image_file", "image_file": {"file_id": pic}},
        ]
        attachments = [{"file_id": doc, "tools": [{"type": "file_search"}]}]
        run = await start(sdk, content, attachments=attachments)
        deadline = time.monotonic() + DEADLINE
        while not (
            steps := await sdk.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
        ).data:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        step = steps.data[0]
        assert step.status == "in_progress" and step.step_details.type == "tool_calls"
        assert [c.type for c in step.step_details.tool_calls] == ["code_interpreter"]
        run = await settle(sdk, run)
        listed = await sdk.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
        assert [s.type for s in listed.data] == ["message_creation", "tool_calls"]
        assert listed.data[1].status == "completed"
        messages = await sdk.beta.threads.messages.list(run.thread_id, order="asc")
        user = messages.data[0]
        assert user.attachments is not None and user.attachments[0].file_id == doc

    scenario(oa, body)
    assert seen[-1].file_ids == [doc, pic] and seen[-1].user_texts == ["look"]
