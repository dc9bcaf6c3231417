"""The JSON of an Assistants run object."""

from __future__ import annotations

from tests.fakes.openai_shapes import JsonDict
from tests.fakes.openai_store import ACTIVE_RUN, RunRec

RUN_LIFETIME = 600  # runs expire ten minutes after creation


def run_json(run: RunRec) -> JsonDict:
    body = run.request
    return {
        "id": run.id,
        "object": "thread.run",
        "created_at": run.created_at,
        "assistant_id": run.assistant_id,
        "thread_id": run.thread_id,
        "status": run.status,
        "started_at": run.started_at,
        "expires_at": run.created_at + RUN_LIFETIME if run.status in ACTIVE_RUN else None,
        "cancelled_at": run.cancelled_at,
        "failed_at": run.failed_at,
        "completed_at": run.completed_at,
        "required_action": run.required_action,
        "last_error": run.last_error,
        "model": run.model,
        "instructions": run.instructions,
        "tools": list(run.tools),
        "tool_resources": {},
        "metadata": body.get("metadata") or {},
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "truncation_strategy": body.get("truncation_strategy")
        or {"type": "auto", "last_messages": None},
        "incomplete_details": run.incomplete_details,
        "usage": run.usage,
        "response_format": body.get("response_format", "auto"),
        "tool_choice": body.get("tool_choice", "auto"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
    }
