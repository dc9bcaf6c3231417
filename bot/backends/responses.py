"""Responses API backend: a Conversation per key, a background response per turn, polled.

OpenAI retired the Assistants API on 2026-08-26; its flow maps to Conversations (threads)
and Responses (runs). Instructions do not carry over between responses, so they are sent
on every call, with `store=True` so the turn lands in the conversation. Function calls come
back as `function_call` output items of a completed response; their outputs go in as
`function_call_output` items of a new response on the same conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
from openai import AsyncOpenAI, omit

from bot.assistants import Assistant
from bot.backends.base import (
    ACTIVITY,
    NO_BRIEF,
    PENDING,
    Attachment,
    Recovered,
    RunState,
    RunStatus,
    TurnBrief,
    UserMessage,
    abandoned,
    call,
)
from bot.backends.citations import GeneratedFile, from_response_output
from bot.backends.context import brief_fields
from bot.backends.downloads import read_capped
from bot.backends.responses_http import ResponsesHttpClient, ResponsesSdkClient
from bot.backends.sse import EventSource
from bot.backends.streams import RunStream
from bot.backends.usage import response_usage
from bot.errors import BackendError
from bot.functions.calls import ToolCall, ToolOutput

if TYPE_CHECKING:
    from bot.file_rules import FileKind, Purpose

JsonDict = dict[str, Any]

_FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "incomplete": RunStatus.INCOMPLETE,
}
# Output item types of the hosted tools, to what they are doing while the response runs.
_TOOL_ITEMS = {
    "code_interpreter_call": ACTIVITY["code_interpreter"],
    "file_search_call": ACTIVITY["file_search"],
    "web_search_call": ACTIVITY["web_search"],
}
_WORKING = {"in_progress", "searching", "interpreting", "queued"}
# Seconds a create may take, until its id is known (the turn's lease is longer).
_CREATE_SECONDS = 20.0


def hosted_tool(name: str, assistant: Assistant, file_ids: Sequence[str] = ()) -> JsonDict:
    """A hosted tool in the Responses API's form; code interpreter gets the turn's files."""
    if name == "code_interpreter":
        container: JsonDict = {"type": "auto"}
        if file_ids:
            container["file_ids"] = list(file_ids)
        return {"type": "code_interpreter", "container": container}
    if name == "file_search":
        return {"type": "file_search", "vector_store_ids": list(assistant.vector_store_ids)}
    return {"type": name}


def message_input(message: UserMessage) -> JsonDict:
    """A user message item: its text, images as `input_image`, other files as `input_file`."""
    if not message.attachments:
        return {"role": "user", "content": message.text}
    content: list[JsonDict] = []
    if message.text:
        content.append({"type": "input_text", "text": message.text})
    for attachment in message.attachments:
        if attachment.kind == "image":
            # OpenAI's published OpenAPI spec requires `detail`; "auto" is the API's default.
            image = {"type": "input_image", "file_id": attachment.openai_id, "detail": "auto"}
            content.append(image)
        else:
            content.append({"type": "input_file", "file_id": attachment.openai_id})
    return {"role": "user", "content": content}


def output_items(outputs: Sequence[ToolOutput]) -> list[JsonDict]:
    """Function outputs as `function_call_output` input items."""
    return [
        {"type": "function_call_output", "call_id": out.call_id, "output": out.output}
        for out in outputs
    ]


def tool_calls_of(items: Sequence[JsonDict]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(
            call_id=str(item.get("call_id")),
            name=str(item.get("name")),
            arguments=str(item.get("arguments") or "{}"),
        )
        for item in items
        if item.get("type") == "function_call"
    )


def activity_of(items: Sequence[JsonDict]) -> str | None:
    """What the newest unfinished hosted-tool item of a running response is doing."""
    for item in reversed(items):
        label = _TOOL_ITEMS.get(str(item.get("type")))
        if label is not None and str(item.get("status")) in _WORKING:
            return label
    return None


def final_state(data: JsonDict, status: RunStatus) -> RunState:
    """The state of a finished response, from its raw JSON, with what it used."""
    return replace(_settled(data, status), usage=response_usage(data))


def _settled(data: JsonDict, status: RunStatus) -> RunState:
    output: list[JsonDict] = [item for item in data.get("output") or [] if isinstance(item, dict)]
    watermark = str(output[-1].get("id")) if output else None
    calls = tool_calls_of(output)
    if status is RunStatus.COMPLETED and calls:
        return RunState(RunStatus.REQUIRES_ACTION, tool_calls=calls, watermark=watermark)
    answer = from_response_output(output)
    if status is RunStatus.COMPLETED:
        return RunState(status, text=answer.text, files=answer.files, watermark=watermark)
    error = data.get("error")
    if isinstance(error, dict):
        return RunState(status, reason=str(error.get("code")), watermark=watermark)
    incomplete = data.get("incomplete_details")
    if isinstance(incomplete, dict):
        return RunState(
            status,
            text=answer.text,
            files=answer.files,
            reason=str(incomplete.get("reason")),
            watermark=watermark,
        )
    return RunState(status, watermark=watermark)


class ResponsesBackend:
    """Conversations + background Responses."""

    kind = "responses"

    def __init__(
        self,
        client: AsyncOpenAI,
        http: aiohttp.ClientSession | None = None,
        *,
        stream_idle: float = 30.0,
    ) -> None:
        self._client = client
        # Creates and polls skip the SDK when the process gives a session to send them with;
        # only then are runs streamed (`stream_idle`: seconds of silence that end a stream).
        self._calls: ResponsesHttpClient | ResponsesSdkClient = (
            ResponsesHttpClient(client, http, stream_idle=stream_idle)
            if http is not None
            else ResponsesSdkClient(client)
        )

    async def create_conversation(self, *, key: str, assistant: Assistant) -> str:
        conversation = await call(
            lambda: self._client.conversations.create(metadata={"source": "slack"})
        )
        return conversation.id

    async def start_run(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        files = [a for m in messages for a in m.attachments]
        items = [message_input(m) for m in messages]
        return await self._create(self._body(conversation_id, assistant, items, files, brief))

    async def submit_tool_outputs(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        items = output_items(outputs)
        return await self._create(self._body(conversation_id, assistant, items, [], brief))

    async def start_run_streamed(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> RunStream | str:
        """`start_run`, streamed: the stream once `response.created` is read, or the run's id
        to poll (a backend without a session, or a server that ignored `stream`)."""
        files = [a for m in messages for a in m.attachments]
        items = [message_input(m) for m in messages]
        return await self._create_streamed(
            self._body(conversation_id, assistant, items, files, brief)
        )

    async def submit_tool_outputs_streamed(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> RunStream | str:
        """`submit_tool_outputs`, streamed as `start_run_streamed` is."""
        items = output_items(outputs)
        return await self._create_streamed(self._body(conversation_id, assistant, items, [], brief))

    async def resume_stream(self, run_id: str, *, after: int) -> RunStream:
        """The run's stream again, after event `after` (a background response's events are
        kept for it). A refusal (an error answer) or an unreachable server is a
        BackendError, as for a poll; the stream breaking later is StreamDropped."""
        calls = self._calls
        if not isinstance(calls, ResponsesHttpClient):
            raise BackendError(
                "streams need the aiohttp session", transient=False, code="no_stream"
            )
        answer = await calls.resume_stream(run_id, after)
        if isinstance(answer, dict):
            raise BackendError(
                "resume answered without a stream", transient=True, code="not_streamed"
            )
        return RunStream(
            EventSource(answer),
            run_id=run_id,
            after=after,
            settle=final_state,
            look=self._look,
        )

    async def abandon_tool_calls(
        self, *, conversation_id: str, run_id: str, calls: tuple[ToolCall, ...]
    ) -> str | None:
        # Unanswered calls would make the conversation's next response fail; answering
        # them as plain items adds them without starting a response.
        added = await call(
            lambda: self._client.conversations.items.create(
                conversation_id,
                items=[
                    {"type": "function_call_output", "call_id": c.call_id, "output": abandoned(c)}
                    for c in calls
                ],
            )
        )
        return added.data[-1].id if added.data else None

    def reads_files(self, assistant: Assistant) -> bool:
        return True

    def file_purpose(self, kind: FileKind) -> Purpose:
        return "user_data"

    async def download_file(self, file: GeneratedFile, *, max_bytes: int) -> bytes:
        if file.container_id:
            stream = self._client.containers.files.content.with_streaming_response.retrieve(
                file.file_id, container_id=file.container_id
            )
        else:
            stream = self._client.files.with_streaming_response.content(file.file_id)
        return await read_capped(stream, max_bytes=max_bytes, what=file.filename)

    async def _create(self, body: JsonDict) -> str:
        # The body is already the wire form and only the id is read back: the SDK's
        # parameter transform and response model would be work for nothing.
        return _id_of(await self._calls.create(body))

    async def _create_streamed(self, body: JsonDict) -> RunStream | str:
        calls = self._calls
        if not isinstance(calls, ResponsesHttpClient):
            return _id_of(await calls.create(body))
        # Never retried here, like every create: the turn machine looks for the run first.
        # Until `response.created` is read the create is a create: 20 s, as the plain one.
        try:
            async with asyncio.timeout(_CREATE_SECONDS):
                answer = await calls.create_stream({**body, "stream": True})
                if isinstance(answer, dict):
                    return _id_of(answer)
                source = EventSource(answer)
                return await RunStream.created(source, settle=final_state, look=self._look)
        except TimeoutError as exc:
            raise BackendError("TimeoutError", transient=True, code="connection") from exc

    def _body(
        self,
        conversation_id: str,
        assistant: Assistant,
        items: list[JsonDict],
        files: Sequence[Attachment],
        brief: TurnBrief = NO_BRIEF,
    ) -> JsonDict:
        body: JsonDict = {
            "model": assistant.model,
            "input": items,
            "conversation": conversation_id,
            "background": True,
            "store": True,
            **brief_fields(assistant, brief),
        }
        instructions = "\n\n".join(t for t in (assistant.instructions, brief.instructions) if t)
        if instructions:
            body["instructions"] = instructions
        # Code interpreter reads the turn's spreadsheets and documents from its container.
        data_files = [f.openai_id for f in files if f.kind != "image"]
        tools = [hosted_tool(tool, assistant, data_files) for tool in assistant.tools]
        tools += [function.responses_tool() for function in assistant.callables]
        if tools:
            body["tools"] = tools
        if assistant.temperature is not None:
            body["temperature"] = assistant.temperature
        if assistant.reasoning is not None:
            # A summary of the reasoning streams as a "Thinking" step (never as answer text).
            body["reasoning"] = {"effort": assistant.reasoning, "summary": "auto"}
        return body

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        return await self._look(run_id)

    async def _look(self, run_id: str) -> RunState:
        """One poll of the run (a stream's too, when it ends without saying how)."""
        # Read the raw JSON: most polls only learn "still running", and building the typed
        # Response for each cost 1.2 ms of CPU against 0.7 ms for the untyped read.
        data = await self._calls.read(run_id)
        status = _FINAL.get(str(data.get("status") or ""))
        if status is None:
            items = [item for item in data.get("output") or [] if isinstance(item, dict)]
            return RunState(RunStatus.RUNNING, activity=activity_of(items))
        return final_state(data, status)

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        await call(lambda: self._client.responses.cancel(run_id))

    def settled_conversation(self, conversation_id: str) -> str | None:
        return None  # its conversations are created before their first run

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        # The Responses API has no list endpoint, so a response whose id was lost is found
        # through the conversation: its input (user messages, or function outputs) and,
        # once finished, its output are items there, after the previous turn's last item.
        page = await call(
            lambda: self._client.conversations.items.list(
                conversation_id, after=watermark or omit, order="asc", limit=100
            )
        )
        items: list[JsonDict] = [item.model_dump(mode="json") async for item in page]
        last_input = max(
            (i for i, item in enumerate(items) if _is_input(item)),
            default=None,
        )
        if last_input is None:
            return None
        after = items[last_input + 1 :]
        if not after:
            return PENDING
        watermark_now = str(after[-1].get("id"))
        calls = tool_calls_of(after)
        if calls:  # nothing after the last input answers them (a message may precede them)
            return RunState(RunStatus.REQUIRES_ACTION, tool_calls=calls, watermark=watermark_now)
        if not any(_is_answer(item) for item in after):
            return PENDING
        answer = from_response_output(after)
        return RunState(
            RunStatus.COMPLETED, text=answer.text, files=answer.files, watermark=watermark_now
        )


def _id_of(response: JsonDict) -> str:
    if not response.get("id"):
        raise BackendError("response without an id", transient=False, code="bad_response")
    return str(response["id"])


def _is_input(item: JsonDict) -> bool:
    kind = item.get("type")
    return (kind == "message" and item.get("role") == "user") or kind == "function_call_output"


def _is_answer(item: JsonDict) -> bool:
    return item.get("type") == "message" and item.get("role") == "assistant"


__all__ = ["ResponsesBackend", "hosted_tool"]
