"""Assistants run steps (tool calls, message creation) and a run's annotated reply content."""

from __future__ import annotations

import re

from tests.fakes.openai_files import is_image, register_file
from tests.fakes.openai_shapes import ApiRequest, JsonDict, Result, list_page, new_id, not_found
from tests.fakes.openai_store import RunRec, Store, TurnPlan, now_int
from tests.fakes.openai_threads import get_thread
from tests.fakes.openai_tools import citation_points, hosted_tools, sandbox_code

# Assistants has no web search tool: only these show up as run-step tool calls.
RUN_HOSTED_TOOLS = ("code_interpreter", "file_search")
# A run step has no `incomplete` status; its steps did complete.
_STEP_STATUS = {"incomplete": "completed"}
_STAMP = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}


def plan_run_tools(plan: TurnPlan) -> None:
    """Give the run's hosted tool calls their ids."""
    for name in hosted_tools(plan):
        if name in RUN_HOSTED_TOOLS:
            plan.hosted_ids[name] = new_id("call")


def _step(run: RunRec, kind: str, details: JsonDict) -> JsonDict:
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now_int(),
        "assistant_id": run.assistant_id,
        "thread_id": run.thread_id,
        "run_id": run.id,
        "type": kind,
        "status": "in_progress",
        "step_details": details,
        "cancelled_at": None,
        "completed_at": None,
        "expired_at": None,
        "failed_at": None,
        "last_error": None,
        "usage": None,
        "metadata": {},
    }


def _hosted_call(plan: TurnPlan, name: str) -> JsonDict:
    call_id = plan.hosted_ids[name]
    if name == "code_interpreter":
        code = {"input": sandbox_code(plan), "outputs": []}
        return {"id": call_id, "type": "code_interpreter", "code_interpreter": code}
    ranking = {"ranker": "default_2024_08_21", "score_threshold": 0.0}
    search = {"ranking_options": ranking, "results": []}
    return {"id": call_id, "type": "file_search", "file_search": search}


def open_hosted_step(run: RunRec) -> None:
    """Show the run's hosted tool calls as an in-progress step (once)."""
    ids = set(run.plan.hosted_ids.values())
    if not ids or any(_call_ids(step) & ids for step in run.steps):
        return
    calls = [_hosted_call(run.plan, name) for name in run.plan.hosted_ids]
    run.steps.append(_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": calls}))


def open_function_step(run: RunRec, calls: list[JsonDict]) -> None:
    tool_calls = [
        {
            "id": call["call_id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"], "output": None},
        }
        for call in calls
    ]
    run.steps.append(_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": tool_calls}))


def close_steps(run: RunRec, status: str, outputs: dict[str, str] | None = None) -> None:
    """End every in-progress step with `status`, filling in submitted function outputs."""
    status = _STEP_STATUS.get(status, status)
    for step in run.steps:
        if step["status"] != "in_progress":
            continue
        step["status"] = status
        stamp = _STAMP.get(status, "expired_at")
        step[stamp] = now_int()
        if status == "failed":
            step["last_error"] = {"code": "server_error", "message": "Sorry, something went wrong."}
        for call in step["step_details"].get("tool_calls", []):
            if call["type"] == "function" and outputs and call["id"] in outputs:
                call["function"]["output"] = outputs[call["id"]]


def add_message_step(run: RunRec, message_id: str) -> None:
    details = {"type": "message_creation", "message_creation": {"message_id": message_id}}
    step = _step(run, "message_creation", details)
    step["status"], step["completed_at"] = "completed", now_int()
    run.steps.append(step)


def _call_ids(step: JsonDict) -> set[str]:
    return {call["id"] for call in step["step_details"].get("tool_calls", [])}


def list_steps(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    get_thread(store, match["tid"])
    run = store.runs.get(match["rid"])
    if run is None or run.thread_id != match["tid"]:
        raise not_found("run", match["rid"])
    return list_page(run.steps, req.query)


def reply_content(store: Store, plan: TurnPlan, text: str) -> list[JsonDict]:
    """Content parts of a run's reply: generated images, then the annotated text."""
    annotations: list[JsonDict] = []
    # File-search citations are markers in the text, e.g. "【4:0†source】".
    points = citation_points(text, len(plan.citations))
    for number, (citation, point) in enumerate(zip(plan.citations, points, strict=True)):
        shift = sum(len(a["text"]) for a in annotations)
        marker = f"【4:{number}†source】"
        start = point + shift
        text = text[:start] + marker + text[start:]
        annotations.append(
            {
                "type": "file_citation",
                "text": marker,
                "start_index": start,
                "end_index": start + len(marker),
                "file_citation": {"file_id": citation["file_id"]},
            }
        )
    parts: list[JsonDict] = []
    for generated in plan.generated:
        name = str(generated["filename"])
        rec = register_file(store, name, bytes(generated["content"]), "assistants_output")
        if is_image(name):
            parts.append({"type": "image_file", "image_file": {"file_id": rec.id, "detail": None}})
            continue
        path = f"sandbox:/mnt/data/{name}"
        text += f"\n\n[{name}]("
        annotations.append(
            {
                "type": "file_path",
                "text": path,
                "start_index": len(text),
                "end_index": len(text) + len(path),
                "file_path": {"file_id": rec.id},
            }
        )
        text += path + ")"
    parts.append({"type": "text", "text": {"value": text, "annotations": annotations}})
    return parts
