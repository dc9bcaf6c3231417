"""How a fake response ends: its final status, output and error, planned once, applied once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.fakes.openai_items import function_call_item, output_message, tool_outputs, user_texts
from tests.fakes.openai_response_json import usage_of
from tests.fakes.openai_shapes import JsonDict, new_id
from tests.fakes.openai_store import ReplyContext, ResponseRec, Store
from tests.fakes.openai_tools import annotate_answer, hosted_items

SERVER_ERROR = {
    "code": "server_error",
    "message": "The server had an error processing your request. Sorry about that! You can "
    "retry your request, or contact us through our help center at help.openai.com if you "
    "keep seeing this error.",
}


@dataclass
class Outcome:
    """What a finished response shows. `output` None: keep the output it shows already."""

    status: str
    output: list[JsonDict] | None = None
    error: JsonDict | None = None
    # Items the response works on before its answer (reasoning, hosted tools), in order.
    leading: list[JsonDict] = field(default_factory=list)


def plan_outcome(store: Store, rec: ResponseRec) -> Outcome:
    """The response's end: the responder is asked (once) and generated files are made."""
    final = (
        rec.final_status
        if rec.final_status in ("completed", "incomplete", "cancelled")
        else "failed"
    )
    text = None
    if final in ("completed", "incomplete") and not rec.planned_calls:
        text = store.reply(response_context(store, rec))
        if text is None:
            final = "failed"
    leading = reasoning_items(rec) + hosted_items(rec, query_of(rec), done=True)
    if final == "failed":
        return Outcome(final, error=dict(SERVER_ERROR), leading=leading)
    if final == "cancelled":
        return Outcome(final, leading=leading)
    if rec.planned_calls and final == "completed":
        calls = [function_call_item(call) for call in rec.planned_calls]
        return Outcome(final, output=leading + calls, leading=leading)
    if text is not None:
        text, annotations = annotate_answer(store, rec.plan, text)
        message = output_message(text, status=final)
        message["content"][0]["annotations"] = annotations
        return Outcome(final, output=[*leading, message], leading=leading)
    return Outcome(final, leading=leading)


def finish_response(store: Store, rec: ResponseRec, outcome: Outcome) -> None:
    """Give `rec` its final status, output, usage; its output joins the conversation."""
    rec.status = outcome.status
    if outcome.error is not None:
        rec.error = dict(outcome.error)
    if outcome.output is not None:
        rec.output = outcome.output
    if outcome.status == "incomplete":
        rec.incomplete_details = {"reason": "max_output_tokens"}
    if outcome.status in ("completed", "incomplete"):
        rec.completed_at = time.time() if outcome.status == "completed" else None
        rec.usage = usage_of(rec)
    if rec.conversation_id and rec.conversation_id in store.conversations:
        store.conversations[rec.conversation_id].items.extend(rec.output)


def reasoning_items(rec: ResponseRec) -> list[JsonDict]:
    """The reasoning item a `reasoning_summary_next` knob asked for; its summary text only
    when the request asks for summaries (`reasoning.summary`), as the real API does."""
    summary = rec.plan.reasoning_summary
    if summary is None:
        return []
    if not rec.plan.reasoning_id:
        rec.plan.reasoning_id = new_id("rs")
    reasoning = rec.request.get("reasoning")
    wants = isinstance(reasoning, dict) and reasoning.get("summary") is not None
    parts = [{"type": "summary_text", "text": summary}] if wants and summary else []
    return [{"type": "reasoning", "id": rec.plan.reasoning_id, "summary": parts}]


def response_context(store: Store, rec: ResponseRec) -> ReplyContext:
    if rec.conversation_id:
        done = sum(
            1
            for other in store.responses.values()
            if other.conversation_id == rec.conversation_id
            and other.status == "completed"
            and other is not rec
        )
    else:
        done = sum(1 for role, _ in rec.history if role == "assistant")
    instructions = rec.request.get("instructions")
    return ReplyContext(
        model=str(rec.request.get("model")),
        instructions=instructions if isinstance(instructions, str) else None,
        assistant_id=None,
        conversation_or_thread_id=rec.conversation_id,
        user_texts=user_texts(rec.input_items),
        history=list(rec.history),
        tools=list(rec.request.get("tools") or []),
        tool_outputs=tool_outputs(rec.input_items),
        turn=done + 1,
        turn_id=rec.id,
        file_ids=list(rec.file_ids),
    )


def query_of(rec: ResponseRec) -> str:
    texts = user_texts(rec.input_items)
    return texts[0] if texts else ""
