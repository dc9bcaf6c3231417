"""Fake Assistants API (beta): runs on threads, with tool calls and lazy completion."""

from __future__ import annotations

import re
import time

from tests.fakes.openai_files import check_file_ids
from tests.fakes.openai_items import function_call_item
from tests.fakes.openai_run_json import run_json
from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    Result,
    estimate_tokens,
    list_page,
    missing,
    new_id,
    not_found,
    texts_of,
)
from tests.fakes.openai_steps import (
    add_message_step,
    close_steps,
    open_function_step,
    open_hosted_step,
    plan_run_tools,
    reply_content,
)
from tests.fakes.openai_store import ACTIVE_RUN, ReplyContext, RunRec, Store, Timed, now_int
from tests.fakes.openai_threads import (
    active_run_id,
    add_message,
    get_assistant,
    get_thread,
    message_file_ids,
    thread_message,
)

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
    additional = body.get("additional_messages") or []
    for message in additional:  # all or nothing: check every file id before adding any
        ids = message_file_ids(message.get("content"), message.get("attachments"))
        check_file_ids(store, ids, "additional_messages")
    for message in additional:
        add_message(store, thread, message)
    # The turn's user texts: what users said since the assistant last answered (a failed or
    # cancelled run leaves them pending for the next run, as the model would see them).
    replied = [i for i, m in enumerate(thread.messages) if m["role"] == "assistant"]
    new = thread.messages[replied[-1] + 1 if replied else 0 :]
    instructions = body.get("instructions") or assistant.get("instructions") or ""
    if body.get("additional_instructions"):
        instructions = f"{instructions}\n{body['additional_instructions']}".strip()
    tools = body.get("tools")
    rounds = store.take_rounds()
    plan = store.take_plan(rounds, answers_now=True)
    plan_run_tools(plan)
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
        planned_calls=rounds[0] if rounds else [],
        plan=plan,
        file_ids=[i for m in new for i in message_file_ids(m["content"], m["attachments"])],
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
    close_steps(
        run, "completed", {str(o.get("tool_call_id")): str(o.get("output")) for o in outputs}
    )
    later = run.plan.later_rounds
    run.planned_calls = store.forever_calls() or (later.pop(0) if later else [])
    run.required_action = None
    run.status = "queued"
    run.timing = Timed(time.monotonic(), store.knobs.latency)
    return run_json(run)


def advance_run(store: Store, run: RunRec) -> None:
    """Bring `run` up to date with the clock; a finished run never changes again."""
    if run.status == "cancelling":
        run.status, run.cancelled_at = "cancelled", now_int()
        close_steps(run, "cancelled")
        return
    if run.status not in ("queued", "in_progress"):
        return
    phase = run.timing.phase()
    if phase == "in_progress" and run.started_at is None:
        run.started_at = now_int()
    if phase != "queued":
        open_hosted_step(run)
    if phase != "done":
        run.status = phase
        return
    run.started_at = run.started_at or now_int()
    final = run.final_status
    if final == "completed" and run.planned_calls:
        calls = [function_call_item(call) for call in run.planned_calls]
        run.planned_calls = []
        run.status = "requires_action"
        close_steps(run, "completed")
        open_function_step(run, calls)
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
    close_steps(run, final)
    if text is not None and thread is not None:
        content = reply_content(store, run.plan, text)
        message = thread_message(
            thread.id,
            "assistant",
            content,
            run_id=run.id,
            assistant_id=run.assistant_id,
            status=final,
        )
        thread.messages.append(message)
        add_message_step(run, message["id"])
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
        file_ids=list(run.file_ids),
    )
