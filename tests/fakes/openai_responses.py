"""Fake Responses API: create (background or blocking), retrieve, cancel, lazy completion."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.fakes.openai_items import (
    check_tool_pairs,
    function_call_item,
    history_of,
    normalize_input,
    output_message,
    tool_outputs,
    user_texts,
)
from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    JsonDict,
    Later,
    Result,
    estimate_tokens,
    missing,
    new_id,
    texts_of,
)
from tests.fakes.openai_store import ACTIVE_RESPONSE, ReplyContext, ResponseRec, Store, Timed

SERVER_ERROR = {
    "code": "server_error",
    "message": "The server had an error processing your request. Sorry about that! You can "
    "retry your request, or contact us through our help center at help.openai.com if you "
    "keep seeing this error.",
}


def conversation_id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _prior_items(store: Store, body: JsonDict) -> tuple[str | None, list[JsonDict]]:
    """The conversation id (if any) and the items the new response builds on."""
    conversation_id = conversation_id_of(body.get("conversation"))
    previous = body.get("previous_response_id")
    if conversation_id and previous:
        raise ApiError(
            400,
            "Mutually exclusive parameters: Ensure you are only providing one "
            "of: 'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    if conversation_id:
        conversation = store.conversations.get(conversation_id)
        if conversation is None:
            raise ApiError(
                404, f"Conversation with id '{conversation_id}' not found.", param="conversation"
            )
        for other in store.responses.values():
            if other.conversation_id == conversation_id and other.status in ACTIVE_RESPONSE:
                raise ApiError(
                    400,
                    "Another process is currently operating on this "
                    "conversation. Please retry in a few seconds.",
                    code="conversation_locked",
                )
        return conversation_id, list(conversation.items)
    chain: list[JsonDict] = []
    while isinstance(previous, str):
        rec = store.responses.get(previous)
        if rec is None:
            raise ApiError(
                404,
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
            )
        chain = rec.input_items + rec.output + chain
        previous = rec.request.get("previous_response_id")
    return None, chain


def create_response(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    body = req.body()
    model = body.get("model")
    if not model:
        raise missing("model")
    if model not in store.knobs.models:
        raise ApiError(
            400,
            f"The requested model '{model}' does not exist.",
            param="model",
            code="model_not_found",
        )
    background = bool(body.get("background"))
    if background and body.get("store") is False:
        raise ApiError(400, "Background mode requires 'store' to be true.", param="store")
    conversation_id, prior = _prior_items(store, body)
    items = normalize_input(body.get("input"))
    check_tool_pairs(prior, items)
    rec = ResponseRec(
        id=new_id("resp"),
        created_at=time.time(),
        request=body,
        input_items=items,
        conversation_id=conversation_id,
        timing=Timed(time.monotonic(), store.knobs.latency),
        final_status=store.planned_final_status(),
        planned_calls=store.take_planned_calls(),
        history=history_of(prior),
    )
    store.responses[rec.id] = rec
    if conversation_id:
        store.conversations[conversation_id].items.extend(items)
    if background:
        return response_json(rec)
    return Later(rec.timing.latency, lambda: _finished_json(store, rec))


def _finished_json(store: Store, rec: ResponseRec) -> JsonDict:
    advance_response(store, rec)
    return response_json(rec)


def retrieve_response(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return response_json(_get(store, match["id"]))


def cancel_response(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = _get(store, match["id"])
    if not rec.request.get("background"):
        raise ApiError(400, "Only responses created with background=true can be cancelled.")
    if rec.status in ACTIVE_RESPONSE:
        rec.status = "cancelled"
    elif rec.status != "cancelled":
        raise ApiError(400, f"Cannot cancel a response with status '{rec.status}'.")
    return response_json(rec)


def _get(store: Store, response_id: str) -> ResponseRec:
    rec = store.responses.get(response_id)
    if rec is None:
        raise ApiError(404, f"Response with id '{response_id}' not found.")
    return rec


def advance_response(store: Store, rec: ResponseRec) -> None:
    """Bring `rec` up to date with the clock; finishing happens once, then never changes."""
    if rec.status not in ACTIVE_RESPONSE:
        return
    phase = rec.timing.phase()
    if phase != "done":
        rec.status = phase
        return
    final = (
        rec.final_status
        if rec.final_status in ("completed", "incomplete", "cancelled")
        else "failed"
    )
    text = None
    if final in ("completed", "incomplete") and not rec.planned_calls:
        text = store.reply(_context(store, rec))
        if text is None:
            final = "failed"
    rec.status = final
    if final == "failed":
        rec.error = dict(SERVER_ERROR)
    elif final == "cancelled":
        pass
    elif rec.planned_calls and final == "completed":
        rec.output = [function_call_item(call) for call in rec.planned_calls]
    elif text is not None:
        rec.output = [output_message(text, status=final)]
    if final == "incomplete":
        rec.incomplete_details = {"reason": "max_output_tokens"}
    if final in ("completed", "incomplete"):
        rec.completed_at = time.time() if final == "completed" else None
        rec.usage = _usage(rec)
    if rec.conversation_id and rec.conversation_id in store.conversations:
        store.conversations[rec.conversation_id].items.extend(rec.output)


def _context(store: Store, rec: ResponseRec) -> ReplyContext:
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
    )


def _usage(rec: ResponseRec) -> JsonDict:
    inputs = estimate_tokens([text for _, text in rec.history] + user_texts(rec.input_items))
    outputs = estimate_tokens([t for item in rec.output for t in texts_of(item.get("content"))])
    return {
        "input_tokens": inputs,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": outputs,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": inputs + outputs,
    }


def response_json(rec: ResponseRec) -> JsonDict:
    body = rec.request
    return {
        "id": rec.id,
        "object": "response",
        "created_at": int(rec.created_at),
        "status": rec.status,
        "background": bool(body.get("background")),
        "completed_at": int(rec.completed_at) if rec.completed_at else None,
        "conversation": {"id": rec.conversation_id} if rec.conversation_id else None,
        "error": rec.error,
        "incomplete_details": rec.incomplete_details,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "metadata": body.get("metadata") or {},
        "model": body.get("model"),
        "output": list(rec.output),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": list(body.get("tools") or []),
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": rec.usage,
        "user": body.get("user"),
    }
