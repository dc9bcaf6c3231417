"""An Agents API turn read as the bridge's RunState: status, answer, calls, files, usage.

Shapes: openai/types/beta/agents/sessions/turn.py (`Turn`), agent_session.py
(`required_actions`), agent_session_item.py (the turn's items), session_artifact.py. The
answer is the turn's assistant messages in the `final_answer` phase (commentary, written
while the agent works, is not the answer); an agent's answers carry no citations.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.backends.base import RunState, RunStatus, Usage
from bot.backends.citations import GeneratedFile
from bot.functions.calls import ToolCall

JsonDict = dict[str, Any]

# Turn statuses (queued, in_progress, waiting, completed, failed, cancelled) as RunStatus;
# `waiting` is read from the session's required actions.
FINAL = {
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
}
# What an agent's items are doing, in the words of the Responses backend's activity.
ACTIVITY = {
    "web_search_call": "searching the web",
    "command_execution": "running a command",
    "mcp_call": "calling a tool",
    "computer_use_call": "using the computer",
    "reasoning": "thinking",
}


@dataclass(frozen=True)
class Approval:
    """An approval the agent asks for (MCP tool call, computer use): denied for now."""

    kind: str  # "mcp" or "computer_use"
    request_id: str
    request_type: str  # the request's own `type` (mcp_tool_call, browser_origin_access, …)
    what: str  # for the notice: the tool or origin


@dataclass(frozen=True)
class Pending:
    """What a waiting turn waits for: function calls, approvals, or an environment."""

    calls: tuple[ToolCall, ...] = ()
    approvals: tuple[Approval, ...] = ()
    environment: bool = False


def pending_for(session: JsonDict, turn_id: str) -> Pending:
    """The session's `required_actions` that belong to this turn."""
    calls: list[ToolCall] = []
    approvals: list[Approval] = []
    environment = False
    for action in session.get("required_actions") or []:
        if not isinstance(action, dict):
            continue
        kind = action.get("type")
        if kind == "environment_connection":
            environment = True
            continue
        if action.get("turn_id") not in (None, turn_id):
            continue
        if kind == "function_call":
            arguments = action.get("arguments")
            text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
            calls.append(ToolCall(str(action["call_id"]), str(action.get("name") or ""), text))
        elif kind in ("mcp_approval_request", "computer_use_approval_request"):
            request = _dict(action.get("request"))
            what = request.get("server_label") or request.get("origin") or request.get("name")
            approvals.append(
                Approval(
                    kind="mcp" if kind == "mcp_approval_request" else "computer_use",
                    request_id=str(action.get("request_id") or ""),
                    request_type=str(request.get("type") or ""),
                    what=str(what or "a tool"),
                )
            )
    return Pending(tuple(calls), tuple(approvals), environment)


def answer_text(items: Sequence[JsonDict]) -> str:
    """The turn's answer: its final-answer messages (all assistant messages when the API
    marks no phase), in order."""
    messages = [
        item for item in items if item.get("type") == "message" and item.get("role") == "assistant"
    ]
    final = [m for m in messages if m.get("phase") == "final_answer"] or [
        m for m in messages if m.get("phase") is None
    ]
    texts = ["".join(_texts(m)) for m in final]
    return "\n\n".join(text for text in texts if text)


def activity_of(items: Sequence[JsonDict]) -> str | None:
    """What the turn's newest unfinished item is doing, if the user would care."""
    for item in reversed(items):
        if item.get("status") == "in_progress" and (found := ACTIVITY.get(str(item.get("type")))):
            return found
    return None


def artifact_files(artifacts: Sequence[JsonDict], turn_id: str) -> tuple[GeneratedFile, ...]:
    """The files the turn published (`/workspace/outputs`), to upload beside the answer."""
    return tuple(
        GeneratedFile(
            str(artifact["id"]),
            posixpath.basename(str(artifact.get("path") or "")) or str(artifact["id"]),
            session_id=str(artifact.get("session_id") or "") or None,
        )
        for artifact in artifacts
        if artifact.get("turn_id") == turn_id and artifact.get("id")
    )


def turn_usage(turn: JsonDict, *, model: str, tool_calls: int) -> Usage | None:
    """The turn's `usage` (TokenUsage), best effort as the API says; None if unknown."""
    usage = turn.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(
        model=model,
        input_tokens=_int(usage.get("input_tokens")),
        cached_tokens=_int(_dict(usage.get("input_tokens_details")).get("cached_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        reasoning_tokens=_int(_dict(usage.get("output_tokens_details")).get("reasoning_tokens")),
        tool_calls=tool_calls,
    )


def count_calls(items: Sequence[JsonDict]) -> int:
    """How many of the turn's items are tool calls (functions, searches, commands, MCP)."""
    return sum(
        1
        for item in items
        if str(item.get("type", "")).endswith("_call") or item.get("type") == "command_execution"
    )


def failure_reason(turn: JsonDict) -> str:
    """A failed turn's error code (a customer-safe `SessionTurnError`), for the log."""
    error = _dict(turn.get("error"))
    return str(error.get("code") or error.get("message") or "failed")


def finished_state(
    turn: JsonDict,
    status: RunStatus,
    items: Sequence[JsonDict],
    files: tuple[GeneratedFile, ...],
    *,
    model: str,
) -> RunState:
    """A terminal turn as the RunState a poll gives; its watermark is the turn itself."""
    turn_id = str(turn["id"])
    usage = turn_usage(turn, model=model, tool_calls=count_calls(items))
    if status is RunStatus.COMPLETED:
        return RunState(
            status, text=answer_text(items), watermark=turn_id, files=files, usage=usage
        )
    reason = failure_reason(turn) if status is RunStatus.FAILED else None
    return RunState(status, reason=reason, watermark=turn_id, usage=usage)


def _texts(message: JsonDict) -> list[str]:
    return [
        str(part.get("text") or "")
        for part in message.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    ]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}
