"""POST /v1/agents/sessions/{id}/events: messages (a new turn, or steering the active one),
tool results, approvals and cancels; checked all first, then applied; idempotency keys."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_agent_json import emit
from tests.fakes.openai_agent_sessions import get_session, input_messages
from tests.fakes.openai_agent_turns import add_input, end_turn, resume, start_turn
from tests.fakes.openai_agents_state import EventPost, SessionRec, TurnRec
from tests.fakes.openai_shapes import (
    Accepted,
    ApiError,
    ApiRequest,
    JsonDict,
    Result,
    SessionStream,
    new_id,
)
from tests.fakes.openai_store import Store

_KINDS = (
    "message",
    "tool_result",
    "cancel",
    "mcp_approval_request_result",
    "computer_use_approval_request_result",
)
_PREFIX = "agent.session.input."


def post_events(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    session = get_session(store, match["sid"])
    events = req.body().get("events")
    if not isinstance(events, list) or not events:
        raise ApiError(400, "Invalid 'events': expected a non-empty array.", param="events")
    key = req.headers.get("idempotency-key")
    posts = store.agents.posts
    if key is not None and key in session.keys:
        posts.append(EventPost(session.id, key, list(events), replay=True))
        return Accepted()
    for index, event in enumerate(events):
        _check(session, event, f"events[{index}]")
    steered = None
    for event in events:
        steered = _apply(store, session, event) or steered
    if key is not None:
        session.keys.add(key)
    posts.append(EventPost(session.id, key, list(events), replay=False, steered_turn_id=steered))
    return Accepted()


def stream_events(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    """GET …/events: the session's live events from now on (the real API replays none)."""
    session = get_session(store, match["sid"])
    return SessionStream(session.id, len(session.events))


def _kind(event: Any, param: str) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str) or kind.removeprefix(_PREFIX) not in _KINDS:
        raise ApiError(400, f"Invalid '{param}.type': '{kind}'.", param=f"{param}.type")
    return kind.removeprefix(_PREFIX)


def _check(session: SessionRec, event: Any, param: str) -> None:
    kind, turn = _kind(event, param), session.active_turn()
    if kind == "message":
        input_messages(event.get("input"), f"{param}.input")
    elif kind == "tool_result":
        call_id = event.get("call_id")
        if turn is None or call_id not in turn.pending_calls:
            raise ApiError(
                400, f"No pending function call found with call_id '{call_id}'.", param=param
            )
        if event.get("turn_id") != turn.id:
            raise ApiError(
                400, f"Function call '{call_id}' belongs to turn '{turn.id}'.", param=param
            )
        if not isinstance(event.get("success"), bool):
            raise ApiError(400, f"Missing required parameter: '{param}.success'.", param=param)
    elif kind != "cancel":
        request_id = event.get("request_id")
        if turn is None or request_id not in turn.pending_approvals:
            raise ApiError(
                400, f"No pending approval request found with id '{request_id}'.", param=param
            )
        if not isinstance(event.get("response"), dict):
            raise ApiError(400, f"Missing required parameter: '{param}.response'.", param=param)


def _apply(store: Store, session: SessionRec, event: JsonDict) -> str | None:
    """Carry out one checked event; the id of the turn a message steered, if it did."""
    kind, turn = event["type"].removeprefix(_PREFIX), session.active_turn()
    if kind == "message":
        messages = input_messages(event["input"], "input")
        if turn is None:
            start_turn(store, session, messages)
            return None
        add_input(session, turn, messages)
        turn.steered.extend(t for m in messages for t in _texts(m))
        return turn.id
    if turn is None:  # a cancel with nothing to cancel: accepted, nothing to do
        return None
    if kind == "cancel":
        end_turn(store, session, turn, "cancelled")
    elif kind == "tool_result":
        _tool_result(session, turn, event)
    else:
        _approval_result(session, turn, event)
    if turn.status == "waiting" and not turn.pending_calls and not turn.pending_approvals:
        resume(session, turn)
    return None


def _texts(message: JsonDict) -> list[str]:
    return [p["text"] for p in message["content"] if p.get("type") == "input_text"]


def _tool_result(session: SessionRec, turn: TurnRec, event: JsonDict) -> None:
    turn.pending_calls.pop(event["call_id"])
    success = bool(event["success"])
    output = event.get("output") if success else None
    item = {
        "type": "function_call_output",
        "id": new_id("fco"),
        "call_id": event["call_id"],
        "output": output,
        "error": None if success else str(event.get("error") or "The function call failed."),
        "status": "completed" if success else "failed",
        "turn_id": turn.id,
    }
    turn.items.append(item)
    if isinstance(output, list):
        output = "".join(p.get("text", "") for p in output if isinstance(p, dict))
    turn.tool_outputs.append(str(output) if success else f"error: {item['error']}")
    emit(
        session, "agent.session.turn.item.added", turn, item=item, output_index=len(turn.items) - 1
    )


def _approval_result(session: SessionRec, turn: TurnRec, event: JsonDict) -> None:
    action = turn.pending_approvals.pop(event["request_id"])
    response = event["response"]
    approved = response.get("decision") == "approve" or response.get("action") == "submit"
    request = action["request"]
    if action["type"] != "mcp_approval_request":
        if not approved:
            turn.denied.append(str(request.get("origin")))
        return
    label, name = request["server_label"], request["name"]
    if not approved:
        turn.denied.append(f"{label}/{name}")
    item = {
        "type": "mcp_call",
        "id": new_id("mcp"),
        "server_label": label,
        "name": name,
        "arguments": request["arguments"],
        "output": f"{name} ran" if approved else None,
        "error": None if approved else "The user denied this tool call.",
        "status": "completed" if approved else "failed",
        "turn_id": turn.id,
    }
    turn.items.append(item)
    turn.tool_outputs.append(f"{label}/{name}: {'approved' if approved else 'denied'}")
    index = len(turn.items) - 1
    emit(session, "agent.session.turn.item.added", turn, item=item, output_index=index)
    emit(session, "agent.session.turn.item.done", turn, item=item, output_index=index)
