"""Conversation items: normalising Responses `input`, and reading texts back out."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openai_shapes import ApiError, JsonDict, new_id, texts_of


def _message_item(role: str, content: Any) -> JsonDict:
    part_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        parts: list[JsonDict] = [{"type": part_type, "text": content}]
    elif isinstance(content, list) and all(isinstance(part, dict) for part in content):
        parts = [dict(part) for part in content]
    else:
        raise ApiError(
            400, "Invalid 'input': message content must be a string or a list.", param="input"
        )
    for part in parts:
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
        elif part.get("type") == "input_image":
            part.setdefault("detail", "auto")
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": "completed",
        "role": role,
        "content": parts,
    }


def normalize_input(raw: Any) -> list[JsonDict]:
    """Turn a Responses `input` (string or list of items) into stored conversation items."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [_message_item("user", raw)]
    if not isinstance(raw, list):
        raise ApiError(
            400,
            "Invalid type for 'input': expected a string or an array.",
            param="input",
            code="invalid_type",
        )
    items: list[JsonDict] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ApiError(400, "Invalid 'input': items must be objects.", param="input")
        kind = entry.get("type", "message")
        if kind == "message":
            role = entry.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise ApiError(400, f"Invalid value for 'input[].role': '{role}'.", param="input")
            items.append(_message_item(str(role), entry.get("content")))
        elif kind == "function_call_output":
            output = entry.get("output")
            items.append(
                {
                    "type": "function_call_output",
                    "id": new_id("fco"),
                    "call_id": entry.get("call_id"),
                    "status": "completed",
                    "output": output if isinstance(output, str) else json.dumps(output),
                }
            )
        else:
            items.append({"id": new_id("item"), "status": "completed", **entry})
    return items


def function_call_item(call: JsonDict) -> JsonDict:
    """A `function_call` output item from a planned call {name, arguments, call_id?}."""
    arguments = call.get("arguments", {})
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": call.get("call_id") or new_id("call"),
        "name": call["name"],
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        "status": "completed",
    }


def output_message(text: str, *, status: str = "completed") -> JsonDict:
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def history_of(items: list[JsonDict]) -> list[tuple[str, str]]:
    """Role-tagged texts of items: ("user", text), ("function_call", "name(args)"), …"""
    history: list[tuple[str, str]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            history.append((str(item.get("role")), "\n".join(texts_of(item.get("content")))))
        elif kind == "function_call":
            history.append(("function_call", f"{item.get('name')}({item.get('arguments')})"))
        elif kind == "function_call_output":
            history.append(("function_call_output", str(item.get("output"))))
    return history


def user_texts(items: list[JsonDict]) -> list[str]:
    return [
        text
        for item in items
        if item.get("type") == "message" and item.get("role") == "user"
        for text in texts_of(item.get("content"))
    ]


def tool_outputs(items: list[JsonDict]) -> list[str]:
    return [str(i.get("output")) for i in items if i.get("type") == "function_call_output"]


def check_tool_pairs(prior: list[JsonDict], new: list[JsonDict]) -> None:
    """Reject outputs without a call, and calls left without an output (as the API does)."""
    everything = prior + new
    calls = {i.get("call_id") for i in everything if i.get("type") == "function_call"}
    answered = {i.get("call_id") for i in everything if i.get("type") == "function_call_output"}
    seen = {i.get("call_id") for i in prior if i.get("type") == "function_call_output"}
    for item in new:
        if item.get("type") != "function_call_output":
            continue
        call_id = item.get("call_id")
        if call_id not in calls:
            raise ApiError(
                400,
                f"No tool call found for function call output with call_id {call_id}.",
                param="input",
            )
        if call_id in seen:
            raise ApiError(
                400,
                f"Duplicate function_call_output for call_id '{call_id}'. Each function_call "
                "must have exactly one matching function_call_output.",
                param="input",
            )
        seen.add(call_id)
    for call_id in calls - answered:
        raise ApiError(400, f"No tool output found for function call {call_id}.", param="input")
