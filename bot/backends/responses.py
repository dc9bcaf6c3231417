"""Responses API backend: a Conversation per key, a background response per turn, polled.

OpenAI retired the Assistants API on 2026-08-26; its flow maps to Conversations (threads)
and Responses (runs). Instructions do not carry over between responses, so they are sent
on every call, with `store=True` so the turn lands in the conversation.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, omit
from openai.types.responses import Response

from bot.assistants import Assistant
from bot.backends.base import PENDING, Recovered, RunState, RunStatus, call, unavailable

_FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "incomplete": RunStatus.INCOMPLETE,
}


def hosted_tool(name: str, assistant: Assistant) -> dict[str, Any]:
    """A hosted tool in the Responses API's form."""
    if name == "code_interpreter":
        return {"type": "code_interpreter", "container": {"type": "auto"}}
    if name == "file_search":
        return {"type": "file_search", "vector_store_ids": list(assistant.vector_store_ids)}
    return {"type": name}


class ResponsesBackend:
    """Conversations + background Responses."""

    kind = "responses"

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        # A create is not idempotent (no idempotency key): never let the SDK repeat one on
        # its own; the engine looks for the run before it tries again. A background create
        # answers at once; a short timeout keeps it well inside the turn's lease.
        self._create_client = client.with_options(max_retries=0, timeout=20.0)

    async def create_conversation(self, *, key: str) -> str:
        conversation = await call(
            lambda: self._client.conversations.create(metadata={"source": "slack"})
        )
        return conversation.id

    async def start_run(
        self, *, conversation_id: str, assistant: Assistant, texts: list[str]
    ) -> str:
        return await self._create(
            conversation_id, assistant, [{"role": "user", "content": text} for text in texts]
        )

    async def _create(
        self, conversation_id: str, assistant: Assistant, items: list[dict[str, Any]]
    ) -> str:
        params: dict[str, Any] = {}
        if assistant.tools:
            params["tools"] = [hosted_tool(tool, assistant) for tool in assistant.tools]
        if assistant.temperature is not None:
            params["temperature"] = assistant.temperature
        if assistant.reasoning is not None:
            params["reasoning"] = {"effort": assistant.reasoning}
        response = await call(
            lambda: self._create_client.responses.create(
                model=assistant.model,
                instructions=assistant.instructions or None,
                input=items,  # type: ignore[arg-type]
                conversation=conversation_id,
                background=True,
                store=True,
                **params,
            )
        )
        return str(response.id)

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        # Most polls only learn "still running": read the status from the JSON and build
        # the typed Response only once it is final (the typed parse of every poll cost
        # 1.2 ms of CPU against 0.7 ms for the untyped read).
        raw = await call(lambda: self._client.get(f"/responses/{run_id}", cast_to=object))
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        status = _FINAL.get(str(data.get("status") or ""))
        if status is None:
            return RunState(RunStatus.RUNNING)
        response = Response.construct(**data)
        calls = [item for item in response.output if item.type == "function_call"]
        if status is RunStatus.COMPLETED and calls:
            # No function is registered for this assistant: answer each call with an error
            # the model can read, in a follow-up response, so the turn never hangs.
            outputs = [
                {
                    "type": "function_call_output",
                    "call_id": item.call_id,
                    "output": unavailable(item.name),
                }
                for item in calls
            ]
            follow_up = await self._create(conversation_id, assistant, outputs)
            return RunState(RunStatus.RUNNING, next_run_id=follow_up)
        watermark = response.output[-1].id if response.output else None
        if status is RunStatus.COMPLETED:
            return RunState(status, text=response.output_text, watermark=watermark)
        if response.error is not None:
            return RunState(status, reason=str(response.error.code), watermark=watermark)
        if response.incomplete_details is not None:
            return RunState(
                status,
                text=response.output_text,
                reason=response.incomplete_details.reason,
                watermark=watermark,
            )
        return RunState(status, watermark=watermark)

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        await call(lambda: self._client.responses.cancel(run_id))

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        # The Responses API has no list endpoint, so a response whose id was lost is found
        # through the conversation: its input (and, once finished, its output) are items
        # there, after the last item of the previous turn.
        page = await call(
            lambda: self._client.conversations.items.list(
                conversation_id, after=watermark or omit, order="asc", limit=100
            )
        )
        items = [item async for item in page]
        last_input = max(
            (i for i, item in enumerate(items) if item.type == "message" and item.role == "user"),
            default=None,
        )
        if last_input is None:
            return None
        answers = [
            part.text
            for item in items[last_input + 1 :]
            if item.type == "message" and item.role == "assistant"
            for part in item.content
            if part.type == "output_text"
        ]
        if not answers:
            return PENDING
        return RunState(RunStatus.COMPLETED, text="\n\n".join(answers), watermark=items[-1].id)
