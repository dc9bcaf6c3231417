"""Fake Assistants API (beta): runs on threads, with tool calls and lazy completion."""

from __future__ import annotations

import re
import time

from tests.fakes.openai_items import function_call_item
from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    JsonDict,
    Result,
    estimate_tokens,
    list_page,
    missing,
    new_id,
    not_found,
    texts_of,
)
from tests.fakes.openai_store import ACTIVE_RUN, ReplyContext, RunRec, Store, Timed, now_int
from tests.fakes.openai_threads import (
    active_run_id,
    add_message,
    get_assistant,
    get_thread,
    thread_message,
)

RUN_LIFETIME = 600  # runs expire ten minutes after creation
LAST_ERROR = {"code": "server_error", "message": "Sorry, something went wrong."}


def create_run(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    thread = get_thread(store, match["tid"])
    body = req.body()
    assistant_id = body.get("assistant_id")
    if not assistant_id:
        raise missing("assistant_id")
    assistant = get_assistant(store, str(assistant_id))
    active = active_run_id(store, thread.id)
    if active is not None:
        raise ApiError(400, f"Thread {thread.id} already has an active run {active}.")
    for message in body.get("additional_messages") or []:
        add_message(store, thread, message)
    # The turn's user texts: what users said since the assistant last answered (a failed or
    # cancelled run leaves them pending for the next run, as the model would see them).
    replied = [i for i, m in enumerate(thread.messages) if m["role"] == "assistant"]
    new = thread.messages[replied[-1] + 1 if replied else 0 :]
    instructions = body.get("instructions") or assistant.get("instructions") or ""
    if body.get("additional_instructions"):
        instructions = f"{instructions}\n{body['additional_instructions']}".strip()
    tools = body.get("tools")
    rec = RunRec(
        id=new_id("run"),
        thread_id=thread.id,
        assistant_id=str(assistant_id),
        created_at=now_int(),
        request=body,
        model=str(body.get("model") or assistant["model"]),
        instructions=str(instructions),
        tools=list(tools if tools is not None else assistant.get("tools") or []),
        timing=Timed(time.monotonic(), store.knobs.latency),
        final_status=store.planned_final_status(),
        planned_calls=store.take_planned_calls(),
        user_texts=[t for m in new if m["role"] == "user" for t in texts_of(m["content"])],
        history=[
            (m["role"], "\n".join(texts_of(m["content"])))
            for m in thread.messages[: len(thread.messages) - len(new)]
        ],
    )
    store.runs[rec.id] = rec
    return run_json(rec)


def _get_run(store: Store, match: re.Match[str]) -> RunRec:
    get_thread(store, match["tid"])
    run = store.runs.get(match["rid"])
    if run is None or run.thread_id != match["tid"]:
        raise not_found("run", match["rid"])
    return run


def retrieve_run(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return run_json(_get_run(store, match))


def list_runs(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    thread = get_thread(store, match["tid"])
    runs = [run_json(run) for run in store.runs.values() if run.thread_id == thread.id]
    return list_page(runs, req.query)


def cancel_run(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    run = _get_run(store, match)
    if run.status not in ACTIVE_RUN:
        raise ApiError(400, f"Cannot cancel run with status '{run.status}'.")
    run.status = "cancelling"
    return run_json(run)


def submit_tool_outputs(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    run = _get_run(store, match)
    if run.status != "requires_action" or run.required_action is None:
        raise ApiError(400, f'Runs in status "{run.status}" do not accept tool outputs.')
    outputs = req.body().get("tool_outputs")
    if not isinstance(outputs, list):
        raise missing("tool_outputs")
    expected = [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]
    given = [str(o.get("tool_call_id")) for o in outputs if isinstance(o, dict)]
    if sorted(expected) != sorted(given):
        raise ApiError(
            400,
            f"Expected tool outputs for call_ids {expected}, got {given}.",
            param="tool_outputs",
        )
    run.tool_outputs.extend(str(o.get("output")) for o in outputs)
    run.required_action = None
    run.status = "queued"
    run.timing = Timed(time.monotonic(), store.knobs.latency)
    return run_json(run)


def advance_run(store: Store, run: RunRec) -> None:
    """Bring `run` up to date with the clock; a finished run never changes again."""
    if run.status == "cancelling":
        run.status, run.cancelled_at = "cancelled", now_int()
        return
    if run.status not in ("queued", "in_progress"):
        return
    phase = run.timing.phase()
    if phase == "in_progress" and run.started_at is None:
        run.started_at = now_int()
    if phase != "done":
        run.status = phase
        return
    run.started_at = run.started_at or now_int()
    final = run.final_status
    if final == "completed" and run.planned_calls:
        calls = [function_call_item(call) for call in run.planned_calls]
        run.planned_calls = []
        run.status = "requires_action"
        run.required_action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": c["call_id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ]
            },
        }
        return
    _finish(store, run, final)


def _finish(store: Store, run: RunRec, final: str) -> None:
    thread = store.threads.get(run.thread_id)
    text = store.reply(_context(store, run)) if final in ("completed", "incomplete") else None
    if final in ("completed", "incomplete") and text is None:
        final = "failed"
    run.status = final
    if final == "failed":
        run.last_error, run.failed_at = dict(LAST_ERROR), now_int()
    elif final == "cancelled":
        run.cancelled_at = now_int()
    if text is not None and thread is not None:
        message = thread_message(
            thread.id, "assistant", text, run_id=run.id, assistant_id=run.assistant_id, status=final
        )
        thread.messages.append(message)
        run.usage = {
            "prompt_tokens": estimate_tokens(run.user_texts),
            "completion_tokens": estimate_tokens([text]),
            "total_tokens": estimate_tokens(run.user_texts) + estimate_tokens([text]),
        }
    if final == "completed":
        run.completed_at = now_int()
    elif final == "incomplete":
        run.incomplete_details = {"reason": "max_completion_tokens"}


def _context(store: Store, run: RunRec) -> ReplyContext:
    done = sum(
        1
        for other in store.runs.values()
        if other.thread_id == run.thread_id and other.status == "completed"
    )
    return ReplyContext(
        model=run.model,
        instructions=run.instructions,
        assistant_id=run.assistant_id,
        conversation_or_thread_id=run.thread_id,
        user_texts=list(run.user_texts),
        history=list(run.history),
        tools=list(run.tools),
        tool_outputs=list(run.tool_outputs),
        turn=done + 1,
        turn_id=run.id,
    )


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
