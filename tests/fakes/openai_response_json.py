"""The JSON of a response object, and its token usage."""

from __future__ import annotations

from tests.fakes.openai_items import user_texts
from tests.fakes.openai_shapes import JsonDict, estimate_tokens, texts_of
from tests.fakes.openai_store import ResponseRec


def usage_of(rec: ResponseRec) -> JsonDict:
    """`ResponseUsage`: the conversation so far counts as cached input (a prefix seen before,
    as prompt caching serves it); the reasoning items' summaries as reasoning tokens."""
    earlier = [text for _, text in rec.history]
    inputs = estimate_tokens(earlier + user_texts(rec.input_items))
    outputs = estimate_tokens([t for item in rec.output for t in texts_of(item.get("content"))])
    summaries = [
        str(part.get("text") or "")
        for item in rec.output
        if item.get("type") == "reasoning"
        for part in item.get("summary") or []
        if isinstance(part, dict)
    ]
    return {
        "input_tokens": inputs,
        "input_tokens_details": {
            "cached_tokens": sum(len(text.split()) for text in earlier),
            "cache_write_tokens": 0,
        },
        "output_tokens": outputs,
        "output_tokens_details": {"reasoning_tokens": sum(len(t.split()) for t in summaries)},
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
