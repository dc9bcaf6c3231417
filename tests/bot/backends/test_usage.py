"""Reading usage as the APIs report it: a response's `usage` and tool-call items, a run's."""

from __future__ import annotations

from openai.types.beta.threads.run import Usage as RunUsage
from openai.types.responses import Response

from bot.backends.base import RunStatus, Usage
from bot.backends.responses import final_state
from bot.backends.usage import response_usage, run_usage

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-5-mini-2026-08-07",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "news"},
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "add",
            "arguments": "{}",
            "status": "completed",
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 1500,
        "input_tokens_details": {"cached_tokens": 1280, "cache_write_tokens": 0},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 256},
        "total_tokens": 1800,
    },
}


def test_a_responses_usage_and_its_tool_call_items_are_read() -> None:
    Response.model_validate(RESPONSE)  # the SDK's own type accepts the shape
    assert response_usage(RESPONSE) == Usage(
        model="gpt-5-mini-2026-08-07",
        input_tokens=1500,
        cached_tokens=1280,
        output_tokens=300,
        reasoning_tokens=256,
        tool_calls=2,
    )


def test_the_final_state_carries_the_usage_also_when_calls_are_asked_for() -> None:
    state = final_state(RESPONSE, RunStatus.COMPLETED)
    assert state.status is RunStatus.REQUIRES_ACTION
    assert state.usage is not None and state.usage.input_tokens == 1500
    failed = final_state(
        {**RESPONSE, "output": [], "error": {"code": "server_error"}}, RunStatus.FAILED
    )
    assert failed.usage is not None and failed.usage.tool_calls == 0


def test_a_response_without_usage_has_none() -> None:
    assert response_usage({**RESPONSE, "usage": None}) is None


def test_a_runs_usage_is_read_with_cached_and_reasoning_where_given() -> None:
    plain = RunUsage(prompt_tokens=900, completion_tokens=40, total_tokens=940)
    assert run_usage(_Run("gpt-4o", plain), tool_calls=3) == Usage(
        model="gpt-4o", input_tokens=900, output_tokens=40, tool_calls=3
    )
    detailed = RunUsage.model_validate(
        {
            "prompt_tokens": 900,
            "completion_tokens": 40,
            "total_tokens": 940,
            "prompt_tokens_details": {"cached_tokens": 512},
            "completion_tokens_details": {"reasoning_tokens": 16},
        }
    )
    usage = run_usage(_Run("o3", detailed))
    assert usage is not None and (usage.cached_tokens, usage.reasoning_tokens) == (512, 16)
    assert run_usage(_Run("gpt-4o", None)) is None


class _Run:
    """The two fields of a `Run` that usage is read from."""

    def __init__(self, model: str, usage: RunUsage | None) -> None:
        self.model, self.usage = model, usage
