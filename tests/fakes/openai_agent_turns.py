"""How a fake agent session turn runs: planned from the knobs when it starts, then advanced
by the clock (queued → in_progress → waiting for calls or approvals → answered)."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.openai_agent_json import (
    assistant_message,
    emit,
    emit_turn,
    function_call,
    history_of,
    turn_usage,
    user_message,
)
from tests.fakes.openai_agent_plan import approval_action, publish_artifact, reply_context
from tests.fakes.openai_agents_state import SessionRec, TurnRec
from tests.fakes.openai_shapes import JsonDict, new_id, texts_of
from tests.fakes.openai_store import Store, now_int

SERVER_ERROR = {"code": "server_error", "message": "The model service encountered an error."}
_TERMINAL = {"completed": "completed", "cancelled": "cancelled"}


def start_turn(store: Store, session: SessionRec, messages: list[JsonDict]) -> TurnRec:
    """A new queued turn with `messages` as its input; the knobs for its course are used up."""
    knobs, agents = store.knobs, store.agents.knobs
    error = agents.turn_error_next
    final = "failed" if error else _TERMINAL.get(store.planned_final_status(), "failed")
    turn = TurnRec(
        id=new_id("turn"),
        session_id=session.id,
        agent_id=str(session.agent["id"]),
        created_at=now_int(),
        latency=knobs.latency,
        segment_start=time.monotonic(),
        rounds=store.take_rounds(),
        approvals=list(agents.approvals_next),
        artifacts=list(agents.artifacts_next),
        final_status=final,
        error=dict(error or SERVER_ERROR) if final == "failed" else None,
        user_texts=[],
        history=[],
    )
    agents.approvals_next, agents.artifacts_next, agents.turn_error_next = [], [], None
    turn.history = history_of(session, turn)
    session.turns.append(turn)
    session.last_active_at = now_int()
    emit_turn(session, "created", turn)
    add_input(session, turn, messages)
    return turn


def add_input(session: SessionRec, turn: TurnRec, messages: list[JsonDict]) -> None:
    """User messages join the turn's input (at its start, or steering it later)."""
    for message in messages:
        item = user_message(turn.id, message["content"])
        turn.items.append(item)
        turn.user_texts.extend(texts_of(message["content"]))
        emit(session, "agent.session.turn.item.added", turn, item=item, output_index=None)
    if turn.answer_id is not None:
        turn.late_steer = True


def advance_session(store: Store, session: SessionRec) -> None:
    turn = session.active_turn()
    while turn is not None and turn.status in ("queued", "in_progress"):
        before = (turn.status, len(session.events))
        _advance(store, session, turn)
        if (turn.status, len(session.events)) == before:
            return


def _advance(store: Store, session: SessionRec, turn: TurnRec) -> None:
    elapsed, latency = time.monotonic() - turn.segment_start, turn.latency
    if turn.status == "queued":
        if elapsed < latency * 0.3:
            return
        turn.status, turn.started_at = "in_progress", now_int()
        emit_turn(session, "in_progress", turn)
        emit(session, "agent.session.in_progress")
    if turn.rounds or turn.approvals:
        if elapsed >= latency:
            _wait(session, turn)
        return
    if turn.final_status != "completed":
        if elapsed >= latency:
            end_turn(store, session, turn, turn.final_status)
        return
    first = store.agents.knobs.first_token
    answer_at = latency * 0.5 if first is None else first
    end = max(latency, answer_at)
    begins = turn.answer_id is None and elapsed >= answer_at
    if begins and not _begin_answer(store, session, turn, answer_at, end):
        end_turn(store, session, turn, "failed")
        return
    _send_deltas(session, turn, elapsed)
    if elapsed >= end:
        _close_answer(session, turn)
        if turn.late_steer:  # steered while answering: one more answer covers the new input
            turn.late_steer, turn.answer_id, turn.segment_start = False, None, time.monotonic()
            turn.segment_start -= answer_at
            return
        end_turn(store, session, turn, "completed")


def _wait(session: SessionRec, turn: TurnRec) -> None:
    if turn.rounds:
        for call in turn.rounds.pop(0):
            item = function_call(turn.id, call)
            turn.items.append(item)
            _item_events(session, turn, item)
            turn.pending_calls[item["call_id"]] = {
                "type": "function_call",
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": item["arguments"],
                "turn_id": turn.id,
            }
    else:
        request_id = new_id("apreq")
        turn.pending_approvals[request_id] = approval_action(
            turn, request_id, turn.approvals.pop(0)
        )
    turn.status = "waiting"
    emit(session, "agent.session.requires_action")


def resume(session: SessionRec, turn: TurnRec) -> None:
    """All the turn waited for is answered: a new segment of work starts now."""
    turn.status, turn.segment_start = "in_progress", time.monotonic()
    emit_turn(session, "in_progress", turn)
    emit(session, "agent.session.in_progress")


def _item_events(session: SessionRec, turn: TurnRec, item: JsonDict) -> None:
    index = turn.items.index(item)
    emit(session, "agent.session.turn.item.added", turn, item=item, output_index=index)
    emit(session, "agent.session.turn.item.done", turn, item=item, output_index=index)


def _begin_answer(
    store: Store, session: SessionRec, turn: TurnRec, begin: float, end: float
) -> bool:
    text = store.reply(reply_context(store, session, turn))
    if text is None:
        return False
    if turn.denied:
        text += "\n\n(I could not use " + ", ".join(turn.denied) + ": the request was denied.)"
    turn.answer_id, turn.answer_text = new_id("msg"), text
    words = text.split(" ")
    count = max(1, min(store.agents.knobs.deltas or 3, len(words)))
    size = -(-len(words) // count)
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    pieces = [p + (" " if n < len(pieces) - 1 else "") for n, p in enumerate(pieces)]
    step = (end - begin) / max(1, len(pieces) - 1)
    turn.chunks = [(begin + n * step, piece) for n, piece in enumerate(pieces)]
    item = assistant_message(turn.id, turn.answer_id, "", "in_progress")
    turn.items.append(item)
    where = {"item_id": turn.answer_id, "output_index": len(turn.items) - 1, "content_index": 0}
    emit(
        session, "agent.session.turn.item.added", turn, item=item, output_index=len(turn.items) - 1
    )
    part = {"type": "output_text", "text": ""}
    emit(session, "agent.session.turn.content_part.added", turn, part=part, **where)
    return True


def _where(turn: TurnRec) -> dict[str, Any]:
    index = next(i for i, item in enumerate(turn.items) if item.get("id") == turn.answer_id)
    return {"item_id": turn.answer_id, "output_index": index, "content_index": 0}


def _send_deltas(session: SessionRec, turn: TurnRec, elapsed: float) -> None:
    while turn.chunks and turn.chunks[0][0] <= elapsed:
        _, piece = turn.chunks.pop(0)
        where = _where(turn)
        turn.items[where["output_index"]] = assistant_message(
            turn.id, str(turn.answer_id), _sent_text(turn) + piece, "in_progress"
        )
        emit(session, "agent.session.turn.output_text.delta", turn, delta=piece, **where)


def _sent_text(turn: TurnRec) -> str:
    item = next(i for i in turn.items if i.get("id") == turn.answer_id)
    return "".join(part["text"] for part in item["content"])


def _close_answer(session: SessionRec, turn: TurnRec) -> None:
    _send_deltas(session, turn, float("inf"))
    where, text = _where(turn), turn.answer_text
    item = assistant_message(turn.id, str(turn.answer_id), text, "completed")
    turn.items[where["output_index"]] = item
    emit(session, "agent.session.turn.output_text.done", turn, text=text, **where)
    part = {"type": "output_text", "text": text}
    emit(session, "agent.session.turn.content_part.done", turn, part=part, **where)
    emit(
        session, "agent.session.turn.item.done", turn, item=item, output_index=where["output_index"]
    )


def end_turn(store: Store, session: SessionRec, turn: TurnRec, status: str) -> None:
    """The turn's terminal state, its artifacts (when completed), and the session idle."""
    turn.status, turn.completed_at = status, now_int()
    turn.pending_calls.clear()
    turn.pending_approvals.clear()
    if status != "failed":
        turn.error = None
    elif turn.error is None:
        turn.error = dict(SERVER_ERROR)
    answers = [i for i in turn.items if i["type"] == "message" and i["role"] == "assistant"]
    for item in answers:
        if item["status"] == "in_progress":
            item["status"] = "incomplete"
    turn.usage = turn_usage(turn, " ".join(_text(i) for i in answers))
    if status == "completed":
        for wanted in turn.artifacts:
            publish_artifact(store, session, turn, wanted)
    session.last_active_at = now_int()
    emit_turn(session, status, turn, usage=turn.usage)
    emit(session, "agent.session.idle")


def _text(item: JsonDict) -> str:
    return "".join(part.get("text", "") for part in item["content"])
