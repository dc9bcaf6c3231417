"""Fake Responses API: create (background, blocking or streamed), retrieve, cancel, lazy
completion."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.fakes.openai_context import check_context
from tests.fakes.openai_items import check_tool_pairs, history_of, normalize_input
from tests.fakes.openai_outcome import finish_response, plan_outcome, query_of
from tests.fakes.openai_response_json import response_json
from tests.fakes.openai_shapes import ApiError, ApiRequest, JsonDict, Later, Result, missing, new_id
from tests.fakes.openai_store import ACTIVE_RESPONSE, ResponseRec, Store, Timed
from tests.fakes.openai_stream import advance_stream, resume_stream, start_stream
from tests.fakes.openai_tools import hosted_items, plan_response


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
    check_context(store.knobs.context_limit, body, prior, items)
    calls, plan, file_ids = plan_response(store, body, items)
    rec = ResponseRec(
        id=new_id("resp"),
        created_at=time.time(),
        request=body,
        input_items=items,
        conversation_id=conversation_id,
        timing=Timed(time.monotonic(), store.knobs.latency),
        final_status=store.planned_final_status(),
        planned_calls=calls,
        history=history_of(prior),
        plan=plan,
        file_ids=file_ids,
    )
    rec.plan.reasoning_summary = store.knobs.reasoning_summary_next
    store.knobs.reasoning_summary_next = None
    store.responses[rec.id] = rec
    if conversation_id:
        store.conversations[conversation_id].items.extend(items)
    if body.get("stream") is True and not store.knobs.stream_ignored:
        return start_stream(store, rec, plan_outcome(store, rec))
    if background:
        return response_json(rec)
    return Later(rec.timing.latency, lambda: _finished_json(store, rec))


def _finished_json(store: Store, rec: ResponseRec) -> JsonDict:
    advance_response(store, rec)
    return response_json(rec)


def retrieve_response(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    rec = _get(store, match["id"])
    if req.query.get("stream") == "true":
        return resume_stream(rec, store, req.query)
    return response_json(rec)


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
    if rec.stream is not None:
        advance_stream(store, rec)
        return
    phase = rec.timing.phase()
    if phase != "done":
        rec.status = phase
        if phase == "in_progress":
            rec.output = hosted_items(rec, query_of(rec), done=False)
        return
    finish_response(store, rec, plan_outcome(store, rec))
