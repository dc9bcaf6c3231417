"""Assistants API backend (threads, messages, runs), for assistants configured by `asst_…` id.

OpenAI retired this API on api.openai.com on 2026-08-26; it stays for servers that still
offer it (OPENAI_BASE_URL). Function calls put the run in `requires_action`; the outputs go
back with `submit_tool_outputs` on the same run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends.base import (
    ACTIVITY,
    NO_BRIEF,
    Recovered,
    RunState,
    RunStatus,
    TurnBrief,
    UserMessage,
    call,
)
from bot.backends.citations import GeneratedFile, cited_file_ids, from_assistant_messages
from bot.backends.downloads import read_capped
from bot.backends.usage import run_usage
from bot.errors import BackendError
from bot.functions.calls import ToolCall, ToolOutput

if TYPE_CHECKING:
    from bot.file_rules import FileKind, Purpose

JsonDict = dict[str, Any]

_FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "expired": RunStatus.EXPIRED,
    "incomplete": RunStatus.INCOMPLETE,
}
_HOSTED = ("code_interpreter", "file_search")


def message_param(message: UserMessage) -> JsonDict:
    """A thread message: text and images as content, other files as attachments for the
    tool that reads them (documents: file search; spreadsheets: code interpreter)."""
    if not message.attachments:
        return {"role": "user", "content": message.text}
    content: list[JsonDict] = [{"type": "text", "text": message.text or "(attached files)"}]
    attachments: list[JsonDict] = []
    for attachment in message.attachments:
        if attachment.kind == "image":
            content.append({"type": "image_file", "image_file": {"file_id": attachment.openai_id}})
        else:
            tool = "file_search" if attachment.kind == "document" else "code_interpreter"
            attachments.append({"file_id": attachment.openai_id, "tools": [{"type": tool}]})
    param: JsonDict = {"role": "user", "content": content}
    if attachments:
        param["attachments"] = attachments
    return param


class AssistantsBackend:
    """Threads + runs, polled with `runs.retrieve`; the reply from `messages.list(run_id=…)`."""

    kind = "assistants"

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        # A background create answers at once; a short timeout keeps it well inside the
        # turn's lease (LEASE_SECONDS), so no other process takes the turn over meanwhile.
        self._create_client = client.with_options(max_retries=0, timeout=20.0)
        # The hosted tools each `asst_…` assistant has on the server, looked up once.
        self._server_tools: dict[str, list[JsonDict]] = {}

    async def create_conversation(self, *, key: str, assistant: Assistant) -> str:
        # Vector stores the assistants file names for file search belong to the thread
        # (a run cannot take them).
        extra: JsonDict = {}
        if assistant.vector_store_ids:
            extra["tool_resources"] = {
                "file_search": {"vector_store_ids": list(assistant.vector_store_ids)}
            }
        thread = await call(
            lambda: self._client.beta.threads.create(metadata={"source": "slack"}, **extra)
        )
        return thread.id

    async def start_run(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        tools = await self._tools(assistant)
        extra: JsonDict = {"tools": tools} if tools is not None else {}
        if brief.instructions:
            # "Appends additional instructions at the end of the instructions for the run."
            extra["additional_instructions"] = brief.instructions
        if assistant.context != "off" or brief.force_truncation:
            # `auto`: the thread is cut to fit the model's context window before the run.
            extra["truncation_strategy"] = {"type": "auto"}
        # `additional_messages` adds the messages and starts the run in one call, so a crash
        # can never leave the messages in the thread without their run.
        run = await call(
            lambda: self._create_client.beta.threads.runs.create(
                thread_id=conversation_id,
                assistant_id=assistant.assistant_id,
                additional_messages=[message_param(m) for m in messages],  # type: ignore[misc]
                **extra,
            )
        )
        return run.id

    async def _tools(self, assistant: Assistant) -> list[JsonDict] | None:
        """The run's tools when the assistants file adds any, else None (the server's own).

        Tools given on a run replace the assistant's, so the server's are kept alongside.
        """
        if not assistant.callables and not assistant.tools:
            return None
        tools = [t for t in await self._own_tools(assistant) if t.get("type") != "function"]
        have = {t.get("type") for t in tools}
        tools += [{"type": name} for name in assistant.tools if name not in have]
        return tools + [function.assistants_tool() for function in assistant.callables]

    async def _own_tools(self, assistant: Assistant) -> list[JsonDict]:
        if assistant.assistant_id not in self._server_tools:
            found = await call(
                lambda: self._client.beta.assistants.retrieve(assistant.assistant_id)
            )
            self._server_tools[assistant.assistant_id] = [
                tool.model_dump(mode="json", exclude_none=True) for tool in found.tools
            ]
        return self._server_tools[assistant.assistant_id]

    async def submit_tool_outputs(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        # The run goes on with the settings it was created with: `brief` has no field here.
        await call(
            lambda: self._create_client.beta.threads.runs.submit_tool_outputs(
                run_id,
                thread_id=conversation_id,
                tool_outputs=[{"tool_call_id": o.call_id, "output": o.output} for o in outputs],
            )
        )
        return run_id

    async def abandon_tool_calls(
        self, *, conversation_id: str, run_id: str, calls: tuple[ToolCall, ...]
    ) -> str | None:
        # A run left in requires_action keeps the thread locked until it expires.
        await self.cancel_run(conversation_id=conversation_id, run_id=run_id)
        return None

    def reads_files(self, assistant: Assistant) -> bool:
        return True

    def file_purpose(self, kind: FileKind) -> Purpose:
        return "vision" if kind == "image" else "assistants"

    async def download_file(self, file: GeneratedFile, *, max_bytes: int) -> bytes:
        stream = self._client.files.with_streaming_response.content(file.file_id)
        return await read_capped(stream, max_bytes=max_bytes, what=file.filename)

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        run = await call(
            lambda: self._client.beta.threads.runs.retrieve(run_id, thread_id=conversation_id)
        )
        if run.status == "requires_action" and run.required_action is not None:
            calls = tuple(
                ToolCall(call_id=c.id, name=c.function.name, arguments=c.function.arguments)
                for c in run.required_action.submit_tool_outputs.tool_calls
            )
            return RunState(RunStatus.REQUIRES_ACTION, tool_calls=calls, watermark=run_id)
        status = _FINAL.get(run.status)
        if status is None:
            return RunState(RunStatus.RUNNING, activity=await self._activity(run_id, run))
        if status is not RunStatus.COMPLETED:
            reason: str | None = run.last_error.code if run.last_error is not None else None
            if reason is None and run.incomplete_details is not None:
                reason = run.incomplete_details.reason
            return RunState(status, reason=reason, watermark=run_id, usage=run_usage(run))
        messages = await self._run_messages(conversation_id, run_id)
        names = await self._file_names(cited_file_ids(messages))
        answer = from_assistant_messages(messages, filenames=names)
        return RunState(
            status,
            text=answer.text,
            files=answer.files,
            watermark=run_id,
            usage=run_usage(run, tool_calls=await self._tool_calls(run_id, conversation_id)),
        )

    async def _tool_calls(self, run_id: str, thread_id: str) -> int:
        """How many tool calls the run made, from its `tool_calls` steps (its usage does
        not say)."""
        page = await call(
            lambda: self._client.beta.threads.runs.steps.list(
                run_id, thread_id=thread_id, limit=100
            )
        )
        return sum(
            len(step.step_details.tool_calls)
            for step in page.data
            if step.step_details.type == "tool_calls"
        )

    async def _activity(self, run_id: str, run: Any) -> str | None:
        """What a running run's current step does, for runs that can use hosted tools."""
        if not any(getattr(tool, "type", None) in _HOSTED for tool in run.tools or []):
            return None
        page = await call(
            lambda: self._client.beta.threads.runs.steps.list(
                run_id, thread_id=run.thread_id, order="desc", limit=1
            )
        )
        for step in page.data:
            details = step.step_details
            if step.status == "in_progress" and details.type == "tool_calls":
                kinds = [tool.type for tool in details.tool_calls]
                for kind in reversed(kinds):
                    if kind in ACTIVITY:
                        return ACTIVITY[kind]
        return None

    async def _file_names(self, file_ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for file_id in file_ids:
            try:
                found = await call(lambda file_id=file_id: self._client.files.retrieve(file_id))  # type: ignore[misc]
            except BackendError:
                continue  # the footnote shows the id instead of the name
            names[file_id] = found.filename
        return names

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        await call(lambda: self._client.beta.threads.runs.cancel(run_id, thread_id=conversation_id))

    def settled_conversation(self, conversation_id: str) -> str | None:
        return None  # its conversations are created before their first run

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        # One run at a time per thread: a run newer than the previous turn's is ours.
        page = await call(
            lambda: self._client.beta.threads.runs.list(conversation_id, order="desc", limit=1)
        )
        newest = page.data[0].id if page.data else None
        return newest if newest is not None and newest != watermark else None

    async def _run_messages(self, thread_id: str, run_id: str) -> list[JsonDict]:
        page = await call(
            lambda: self._client.beta.threads.messages.list(
                thread_id, run_id=run_id, order="asc", limit=100
            )
        )
        return [m.model_dump(mode="json") async for m in page if m.role == "assistant"]
