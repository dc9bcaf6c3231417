"""Assistants API backend (threads, messages, runs), for assistants configured by `asst_…` id.

OpenAI retired this API on api.openai.com on 2026-08-26; it stays for servers that still
offer it (OPENAI_BASE_URL).
"""

from __future__ import annotations

from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends.base import Recovered, RunState, RunStatus, call, unavailable

_FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "expired": RunStatus.EXPIRED,
    "incomplete": RunStatus.INCOMPLETE,
}


class AssistantsBackend:
    """Threads + runs, polled with `runs.retrieve`; the reply from `messages.list(run_id=…)`."""

    kind = "assistants"

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        # A background create answers at once; a short timeout keeps it well inside the
        # turn's lease (LEASE_SECONDS), so no other process takes the turn over meanwhile.
        self._create_client = client.with_options(max_retries=0, timeout=20.0)

    async def create_conversation(self, *, key: str) -> str:
        thread = await call(lambda: self._client.beta.threads.create(metadata={"source": "slack"}))
        return thread.id

    async def start_run(
        self, *, conversation_id: str, assistant: Assistant, texts: list[str]
    ) -> str:
        # `additional_messages` adds the messages and starts the run in one call, so a crash
        # can never leave the messages in the thread without their run.
        run = await call(
            lambda: self._create_client.beta.threads.runs.create(
                thread_id=conversation_id,
                assistant_id=assistant.assistant_id,
                additional_messages=[{"role": "user", "content": text} for text in texts],
            )
        )
        return run.id

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        run = await call(
            lambda: self._client.beta.threads.runs.retrieve(run_id, thread_id=conversation_id)
        )
        if run.status == "requires_action" and run.required_action is not None:
            # No function is registered for this assistant yet: answer every call with an
            # error the model can read, so the run never hangs in requires_action.
            outputs = [
                {
                    "tool_call_id": tool_call.id,
                    "output": unavailable(tool_call.function.name),
                }
                for tool_call in run.required_action.submit_tool_outputs.tool_calls
            ]
            await call(
                lambda: self._client.beta.threads.runs.submit_tool_outputs(
                    run_id,
                    thread_id=conversation_id,
                    tool_outputs=outputs,  # type: ignore[arg-type]
                )
            )
            return RunState(RunStatus.RUNNING)
        status = _FINAL.get(run.status)
        if status is None:
            return RunState(RunStatus.RUNNING)
        if status is not RunStatus.COMPLETED:
            reason: str | None = run.last_error.code if run.last_error is not None else None
            if reason is None and run.incomplete_details is not None:
                reason = run.incomplete_details.reason
            return RunState(status, reason=reason, watermark=run_id)
        text = await self._run_text(conversation_id, run_id)
        return RunState(status, text=text, watermark=run_id)

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        await call(lambda: self._client.beta.threads.runs.cancel(run_id, thread_id=conversation_id))

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        # One run at a time per thread: a run newer than the previous turn's is ours.
        page = await call(
            lambda: self._client.beta.threads.runs.list(conversation_id, order="desc", limit=1)
        )
        newest = page.data[0].id if page.data else None
        return newest if newest is not None and newest != watermark else None

    async def _run_text(self, thread_id: str, run_id: str) -> str:
        texts: list[str] = []
        page = await call(
            lambda: self._client.beta.threads.messages.list(
                thread_id, run_id=run_id, order="asc", limit=100
            )
        )
        async for message in page:
            if message.role != "assistant":
                continue
            for part in message.content:
                if part.type == "text":
                    texts.append(part.text.value)
        return "\n\n".join(texts)
