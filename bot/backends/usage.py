"""A finished response's or run's token usage, read from what the API reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.backends.base import Usage

JsonDict = dict[str, Any]


def response_usage(data: JsonDict) -> Usage | None:
    """The `usage` of a Responses API response (JSON), or None if it has none yet.

    `ResponseUsage` (openai/types/responses/response_usage.py): `input_tokens`,
    `input_tokens_details.cached_tokens`, `output_tokens`,
    `output_tokens_details.reasoning_tokens`. Tool calls: the output items that are calls
    (`function_call`, `web_search_call`, `code_interpreter_call`, … all end in `_call`).
    """
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None
    output = [item for item in data.get("output") or [] if isinstance(item, dict)]
    return Usage(
        model=str(data.get("model") or ""),
        input_tokens=_int(usage.get("input_tokens")),
        cached_tokens=_int(_dict(usage.get("input_tokens_details")).get("cached_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        reasoning_tokens=_int(_dict(usage.get("output_tokens_details")).get("reasoning_tokens")),
        tool_calls=count_tool_calls(output),
    )


def count_tool_calls(items: Sequence[JsonDict]) -> int:
    """How many of a response's output items are tool calls."""
    return sum(1 for item in items if str(item.get("type", "")).endswith("_call"))


def run_usage(run: Any, *, tool_calls: int = 0) -> Usage | None:
    """The `usage` of an Assistants API run, or None (the API gives it only once the run
    is terminal: openai/types/beta/threads/run.py `Usage`: `prompt_tokens`,
    `completion_tokens`). Cached and reasoning tokens are read where the server adds them
    (`prompt_tokens_details`, `completion_tokens_details`, as in Chat Completions)."""
    usage = getattr(run, "usage", None)
    if usage is None:
        return None
    extra: JsonDict = getattr(usage, "model_extra", None) or {}
    return Usage(
        model=str(getattr(run, "model", "") or ""),
        input_tokens=_int(usage.prompt_tokens),
        cached_tokens=_int(_dict(extra.get("prompt_tokens_details")).get("cached_tokens")),
        output_tokens=_int(usage.completion_tokens),
        reasoning_tokens=_int(
            _dict(extra.get("completion_tokens_details")).get("reasoning_tokens")
        ),
        tool_calls=tool_calls,
    )


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
