"""Responses API backend: a Conversation per key, a background response per turn, polled.

OpenAI retired the Assistants API on 2026-08-26; its flow maps to Conversations (threads)
and Responses (runs). Instructions do not carry over between responses, so they are sent
on every call, with `store=True` so the turn lands in the conversation.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI
from openai.types.responses import Response

from bot.assistants import Assistant
from bot.backends.base import RunState, RunStatus, call

_FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "incomplete": RunStatus.INCOMPLETE,
}


class ResponsesBackend:
    """Conversations + background Responses."""

    kind = "responses"

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        # A create is not idempotent (no idempotency key): never let the SDK repeat one
        # on its own; the scheduler decides when it is safe to try again.
        self._create_client = client.with_options(max_retries=0)

    async def create_conversation(self, *, key: str) -> str:
        conversation = await call(
            lambda: self._client.conversations.create(metadata={"source": "slack"})
        )
        return conversation.id

    async def start_run(
        self, *, conversation_id: str, assistant: Assistant, texts: list[str]
    ) -> str:
        params: dict[str, Any] = {}
        if assistant.tools:
            params["tools"] = [{"type": tool} for tool in assistant.tools]
        response = await call(
            lambda: self._create_client.responses.create(
                model=assistant.model,
                instructions=assistant.instructions or None,
                input=[{"role": "user", "content": text} for text in texts],
                conversation=conversation_id,
                background=True,
                store=True,
                **params,
            )
        )
        return str(response.id)

    async def poll_run(self, *, conversation_id: str, run_id: str) -> RunState:
        response: Response = await call(lambda: self._client.responses.retrieve(run_id))
        status = _FINAL.get(response.status or "")
        if status is None:
            return RunState(RunStatus.RUNNING)
        if status is RunStatus.COMPLETED:
            return RunState(status, text=response.output_text)
        if response.error is not None:
            return RunState(status, reason=str(response.error.code))
        if response.incomplete_details is not None:
            return RunState(
                status, text=response.output_text, reason=response.incomplete_details.reason
            )
        return RunState(status)
