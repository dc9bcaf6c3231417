"""Files, containers, tool rounds and hosted tools of the fake OpenAI, via the async SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import pytest
from openai.types.responses import Response
from openai.types.responses.response_output_text import (
    AnnotationContainerFileCitation,
    AnnotationFileCitation,
)

from tests.fakes.openai_api import FakeOpenAI

DEADLINE = 5.0


def sdk_for(oa: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=oa.url + "/v1", api_key="sk-test", max_retries=0)


def scenario(oa: FakeOpenAI, body: Callable[[openai.AsyncOpenAI], Awaitable[None]]) -> None:
    async def main() -> None:
        async with sdk_for(oa) as sdk:
            await body(sdk)

    asyncio.run(main())


async def finish(sdk: openai.AsyncOpenAI, response: Response) -> Response:
    deadline = time.monotonic() + DEADLINE
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"response still {response.status}"
        await asyncio.sleep(0.01)
        response = await sdk.responses.retrieve(response.id)
    return response


async def ask(sdk: openai.AsyncOpenAI, conversation_id: str, given: Any, **extra: Any) -> Response:
    created = await sdk.responses.create(
        model="gpt-5-mini", input=given, conversation=conversation_id, background=True, **extra
    )
    return await finish(sdk, created)


def outputs(*pairs: tuple[str, str]) -> list[Any]:
    return [{"type": "function_call_output", "call_id": c, "output": o} for c, o in pairs]


def test_function_call_rounds_then_answer_echoes_outputs(oa: FakeOpenAI) -> None:
    oa.responder = lambda context: "outputs: " + ",".join(context.tool_outputs)
    oa.function_call_rounds_next = [
        [{"name": "a", "arguments": "{}"}, {"name": "b", "arguments": '{"x": 1}'}],
        [{"name": "c", "arguments": "{}", "call_id": "call_fixed"}],
    ]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        conversation = await sdk.conversations.create()
        first = await ask(sdk, conversation.id, "go")
        calls = [item for item in first.output if item.type == "function_call"]
        assert [(c.name, c.arguments, c.status) for c in calls] == [
            ("a", "{}", "completed"),
            ("b", '{"x": 1}', "completed"),
        ]
        assert str(calls[0].id).startswith("fc_") and calls[0].call_id.startswith("call_")
        with pytest.raises(openai.BadRequestError, match="No tool call found"):
            await ask(sdk, conversation.id, outputs(("call_nope", "1")))
        with pytest.raises(openai.BadRequestError, match="Duplicate function_call_output"):
            await ask(
                sdk, conversation.id, outputs((calls[0].call_id, "1"), (calls[0].call_id, "2"))
            )
        second = await ask(
            sdk, conversation.id, outputs((calls[0].call_id, "A"), (calls[1].call_id, "B"))
        )
        assert [(i.type, getattr(i, "call_id", None)) for i in second.output] == [
            ("function_call", "call_fixed")
        ]
        with pytest.raises(openai.BadRequestError, match="Duplicate function_call_output"):
            await ask(sdk, conversation.id, outputs((calls[0].call_id, "again")))
        third = await ask(sdk, conversation.id, outputs(("call_fixed", "C")))
        assert third.output_text == "outputs: C"
        items = [i.type async for i in sdk.conversations.items.list(conversation.id, order="asc")]
        assert items.count("function_call") == 3 and items.count("function_call_output") == 3

    scenario(oa, body)


def test_function_calls_forever_until_cleared(oa: FakeOpenAI) -> None:
    oa.function_calls_forever = [{"name": "loop", "arguments": "{}", "call_id": "call_same"}]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        conversation = await sdk.conversations.create()
        response = await ask(sdk, conversation.id, "start")
        seen = set()
        for _ in range(3):
            call = response.output[0]
            assert call.type == "function_call" and call.name == "loop"
            seen.add(call.call_id)
            response = await ask(sdk, conversation.id, outputs((call.call_id, "again")))
        assert len(seen) == 3  # a fresh call id each round
        oa.function_calls_forever = None
        call = response.output[0]
        assert call.type == "function_call"
        done = await ask(sdk, conversation.id, outputs((call.call_id, "stop")))
        assert done.output_text.startswith("echo:")

    scenario(oa, body)


def test_generated_files_are_cited_and_downloadable_from_the_container(oa: FakeOpenAI) -> None:
    oa.responder = lambda context: "Here is your chart."
    oa.generated_files_next = [
        {"filename": "chart.png", "content": b"\x89PNG fake"},
        {"filename": "data.csv", "content": b"x,y\n"},
    ]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        conversation = await sdk.conversations.create()
        tools: Any = [{"type": "code_interpreter", "container": {"type": "auto"}}]
        response = await ask(
            sdk, conversation.id, "plot", tools=tools, include=["code_interpreter_call.outputs"]
        )
        call, message = response.output
        assert call.type == "code_interpreter_call" and call.status == "completed"
        assert call.id.startswith("ci_") and call.container_id.startswith("cntr_")
        assert call.outputs is not None and call.outputs[0].type == "logs"
        assert message.type == "message"
        part = message.content[0]
        assert part.type == "output_text"
        assert part.text.startswith(
            "Here is your chart.\n\n[chart.png](sandbox:/mnt/data/chart.png)"
        )
        cfile_ids = []
        for note, name in zip(part.annotations, ["chart.png", "data.csv"], strict=True):
            assert isinstance(note, AnnotationContainerFileCitation) and note.filename == name
            cfile_ids.append(note.file_id)
            assert note.container_id == call.container_id and note.file_id.startswith("cfile_")
            link = part.text[note.start_index : note.end_index]
            assert link == f"[{name}](sandbox:/mnt/data/{name})"
            meta = await sdk.containers.files.retrieve(note.file_id, container_id=call.container_id)
            assert meta.path == f"/mnt/data/{name}" and meta.source == "assistant"
        data = await sdk.containers.files.content.retrieve(
            cfile_ids[1], container_id=call.container_id
        )
        assert data.content == b"x,y\n"
        with pytest.raises(openai.NotFoundError):
            await sdk.containers.files.retrieve("cfile_nope", container_id=call.container_id)
        with pytest.raises(openai.NotFoundError):
            await sdk.containers.files.retrieve(cfile_ids[1], container_id="cntr_x")

    scenario(oa, body)
    assert [f["filename"] for f in oa.container_files] == ["chart.png", "data.csv"]


def test_citations_and_file_search_call(oa: FakeOpenAI) -> None:
    oa.responder = lambda context: "First fact. Second fact."
    known = oa.add_file("handbook.pdf", b"%PDF")
    oa.citations_next = [{"filename": "handbook.pdf", "file_id": known}, {"filename": "faq.md"}]
    faq_id = oa.citations_next[1]["file_id"]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        conversation = await sdk.conversations.create()
        response = await ask(sdk, conversation.id, "what does it say?")
        search, message = response.output
        assert search.type == "file_search_call" and search.status == "completed"
        assert search.id.startswith("fs_") and search.queries == ["what does it say?"]
        assert message.type == "message" and message.content[0].type == "output_text"
        notes = message.content[0].annotations
        assert all(isinstance(n, AnnotationFileCitation) for n in notes)
        assert [(n.type, n.file_id, n.filename, n.index) for n in notes] == [  # type: ignore[union-attr]
            ("file_citation", known, "handbook.pdf", len("First fact.")),
            ("file_citation", faq_id, "faq.md", len("First fact. Second fact.")),
        ]
        assert (await sdk.files.retrieve(faq_id)).filename == "faq.md"

    scenario(oa, body)


def test_activity_shows_in_progress_hosted_calls(oa: FakeOpenAI) -> None:
    oa.activity_next = ["web_search", "code_interpreter", "file_search"]
    oa.latency = 1.0
    with pytest.raises(ValueError, match="unknown hosted tools"):
        oa.activity_next = ["image_generation"]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        created = await sdk.responses.create(model="gpt-5-mini", input="look", background=True)
        deadline = time.monotonic() + DEADLINE
        while (current := await sdk.responses.retrieve(created.id)).status != "in_progress":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert [(i.type, getattr(i, "status", None)) for i in current.output] == [
            ("web_search_call", "in_progress"),
            ("code_interpreter_call", "interpreting"),
            ("file_search_call", "searching"),
        ]
        web = current.output[0]
        assert web.type == "web_search_call" and web.action.type == "search"
        assert web.action.query == "look"
        done = await finish(sdk, current)
        assert [(i.type, getattr(i, "status", None)) for i in done.output][:3] == [
            ("web_search_call", "completed"),
            ("code_interpreter_call", "completed"),
            ("file_search_call", "completed"),
        ]
        assert done.output[0].id == web.id and done.output_text == "echo: look (turn 1)"

    scenario(oa, body)
