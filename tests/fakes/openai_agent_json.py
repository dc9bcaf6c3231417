"""The Agents API's JSON shapes: sessions, turns, items, usage, and the events they emit."""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
from typing import Any

from tests.fakes.openai_agents_state import SessionRec, TurnRec
from tests.fakes.openai_shapes import JsonDict, estimate_tokens, new_id, texts_of

ACTIVE_TURN = ("queued", "in_progress", "waiting")


def usage_json(input_tokens: int, output_tokens: int) -> JsonDict:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def turn_usage(turn: TurnRec, answer: str) -> JsonDict:
    seen = turn.user_texts + [text for _, text in turn.history] + turn.tool_outputs
    return usage_json(estimate_tokens(seen), estimate_tokens([answer]) if answer else 0)


def turn_json(turn: TurnRec) -> JsonDict:
    return {
        "id": turn.id,
        "object": "agent.session.turn",
        "agent_id": turn.agent_id,
        "session_id": turn.session_id,
        "created_at": turn.created_at,
        "started_at": turn.started_at,
        "completed_at": turn.completed_at,
        "status": turn.status,
        "error": copy.deepcopy(turn.error) if turn.status == "failed" else None,
        "subagent_id": None,
        "usage": copy.deepcopy(turn.usage),
        "prompt_cache_options": None,
    }


def session_status(session: SessionRec) -> str:
    active = session.active_turn()
    if active is None:
        return "idle"
    return "requires_action" if active.status == "waiting" else "in_progress"


def session_json(session: SessionRec) -> JsonDict:
    active = session.active_turn()
    actions: list[JsonDict] = []
    if active is not None and active.status == "waiting":
        actions = [*active.pending_calls.values(), *active.pending_approvals.values()]
    usages = [t.usage for t in session.turns if t.usage is not None]
    usage = None
    if usages:
        usage = usage_json(
            sum(u["input_tokens"] for u in usages), sum(u["output_tokens"] for u in usages)
        )
    body = session.request
    return {
        "id": session.id,
        "object": "agent.session",
        "agent": copy.deepcopy(session.agent),
        "created_at": session.created_at,
        "environment": copy.deepcopy(session.environment),
        "error": None,
        "last_active_at": session.last_active_at,
        "metadata": dict(session.metadata),
        "required_actions": copy.deepcopy(actions),
        "status": session_status(session),
        "usage": usage,
        "vault_ids": list(body.get("vault_ids") or []),
        "prompt_cache_options": body.get("prompt_cache_options"),
        "review": body.get("review"),
    }


def user_message(turn_id: str, content: Any) -> JsonDict:
    return {
        "type": "message",
        "id": new_id("msg"),
        "role": "user",
        "content": copy.deepcopy(content),
        "phase": None,
        "status": "completed",
        "turn_id": turn_id,
    }


def assistant_message(turn_id: str, item_id: str, text: str, status: str) -> JsonDict:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}]
        if text or status != "in_progress"
        else [],
        "phase": "final_answer",
        "status": status,
        "turn_id": turn_id,
    }


def function_call(turn_id: str, call: JsonDict) -> JsonDict:
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments) if arguments else {}
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": call.get("call_id") or new_id("call"),
        "name": call["name"],
        "arguments": arguments,
        "status": "completed",
        "turn_id": turn_id,
    }


def history_of(session: SessionRec, before: TurnRec) -> list[tuple[str, str]]:
    """Role-tagged texts of the session's earlier turns, as a responder sees them."""
    history: list[tuple[str, str]] = []
    for turn in session.turns:
        if turn is before:
            break
        for item in turn.items:
            if item["type"] == "message":
                history.append((item["role"], "\n".join(texts_of(item["content"]))))
            elif item["type"] == "function_call":
                history.append(
                    ("function_call", f"{item['name']}({json.dumps(item['arguments'])})")
                )
            elif item["type"] == "function_call_output":
                history.append(("function_call_output", str(item.get("output"))))
    return history


def emit(session: SessionRec, kind: str, of: TurnRec | None = None, /, **fields: Any) -> None:
    """Add an event to the session's log: session events carry the session, turn events
    the session id and turn id (and the turn itself for lifecycle events)."""
    event: JsonDict = {"type": kind, "event_id": new_id("evt")}
    if kind.startswith("agent.session.turn.") and of is not None:
        event.update(session_id=session.id, turn_id=of.id)
    elif kind == "error":
        event["session_id"] = session.id
    else:
        event["session"] = session_json(session)
    event.update(copy.deepcopy(fields))
    if kind.endswith(".delta") and session.include_obfuscation:
        event["obfuscation"] = secrets.token_urlsafe(random_pad(event))
    session.events.append(event)


def random_pad(event: JsonDict) -> int:
    """Padding length of a delta (the real API pads deltas so their size leaks less)."""
    return max(1, 16 - len(str(event.get("delta", ""))) % 16)


def emit_turn(session: SessionRec, kind: str, turn: TurnRec, **fields: Any) -> None:
    emit(session, f"agent.session.turn.{kind}", turn, turn=turn_json(turn), **fields)
