"""Fake Assistants API (beta): assistants, threads and thread messages."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_files import check_file_ids, file_ids_in_parts
from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    JsonDict,
    Result,
    list_page,
    missing,
    new_id,
    not_found,
)
from tests.fakes.openai_store import ACTIVE_RUN, Store, ThreadRec, now_int


def assistant_json(
    assistant_id: str,
    *,
    model: str,
    instructions: str | None,
    name: str | None,
    tools: list[Any] | None,
) -> JsonDict:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": now_int(),
        "name": name,
        "description": None,
        "model": model,
        "instructions": instructions,
        "tools": list(tools or []),
        "metadata": {},
        "top_p": 1.0,
        "temperature": 1.0,
        "tool_resources": {},
        "response_format": "auto",
    }


def get_assistant(store: Store, assistant_id: str) -> JsonDict:
    assistant = store.assistants.get(assistant_id)
    if assistant is None:
        raise not_found("assistant", assistant_id)
    return assistant


def get_thread(store: Store, thread_id: str) -> ThreadRec:
    thread = store.threads.get(thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    return thread


def thread_message(
    thread_id: str,
    role: str,
    content: Any,
    *,
    run_id: str | None = None,
    assistant_id: str | None = None,
    status: str = "completed",
    metadata: dict[str, Any] | None = None,
    attachments: list[JsonDict] | None = None,
) -> JsonDict:
    """A `thread.message`; `content` is a string or a list of content parts."""
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ApiError(400, "Invalid 'content': expected a string or an array.", param="content")
    parts: list[JsonDict] = []
    for part in content:
        if (
            isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ):
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        elif isinstance(part, dict):
            parts.append(dict(part))
    created = now_int()
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "role": role,
        "content": parts,
        "attachments": list(attachments or []),
        "metadata": dict(metadata or {}),
        "status": status,
        "completed_at": created if status == "completed" else None,
        "incomplete_at": created if status == "incomplete" else None,
        "incomplete_details": {"reason": "max_tokens"} if status == "incomplete" else None,
    }


def thread_json(thread: ThreadRec) -> JsonDict:
    return {
        "id": thread.id,
        "object": "thread",
        "created_at": thread.created_at,
        "metadata": dict(thread.metadata),
        "tool_resources": {},
    }


def active_run_id(store: Store, thread_id: str) -> str | None:
    for run in store.runs.values():
        if run.thread_id == thread_id and run.status in ACTIVE_RUN:
            return run.id
    return None


def add_message(store: Store, thread: ThreadRec, body: JsonDict) -> JsonDict:
    role = body.get("role")
    if role not in ("user", "assistant"):
        raise (
            missing("role")
            if role is None
            else ApiError(
                400,
                f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
                param="role",
                code="invalid_value",
            )
        )
    if "content" not in body:
        raise missing("content")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise ApiError(400, "Invalid 'attachments': expected an array.", param="attachments")
    check_file_ids(store, message_file_ids(None, attachments), "attachments")
    check_file_ids(store, file_ids_in_parts(body["content"]), "content")
    message = thread_message(
        thread.id,
        str(role),
        body["content"],
        metadata=body.get("metadata"),
        attachments=attachments,
    )
    thread.messages.append(message)
    return message


def message_file_ids(content: Any, attachments: Any) -> list[str]:
    """Ids of a message's attachments and image_file parts."""
    attached = [
        str(a["file_id"]) for a in attachments or [] if isinstance(a, dict) and a.get("file_id")
    ]
    return attached + file_ids_in_parts(content)


def retrieve_assistant(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return get_assistant(store, match["id"])


def list_assistants(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    return list_page(list(store.assistants.values()), req.query)


def create_thread(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    body = req.body()
    thread = ThreadRec(new_id("thread"), now_int(), dict(body.get("metadata") or {}))
    store.threads[thread.id] = thread
    for message in body.get("messages") or []:
        add_message(store, thread, message)
    return thread_json(thread)


def retrieve_thread(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return thread_json(get_thread(store, match["tid"]))


def update_thread(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    thread = get_thread(store, match["tid"])
    thread.metadata = dict(req.body().get("metadata") or {})
    return thread_json(thread)


def delete_thread(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    thread = get_thread(store, match["tid"])
    del store.threads[thread.id]
    return {"id": thread.id, "object": "thread.deleted", "deleted": True}


def create_message(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    thread = get_thread(store, match["tid"])
    run_id = active_run_id(store, thread.id)
    if run_id is not None:
        raise ApiError(400, f"Can't add messages to {thread.id} while a run {run_id} is active.")
    return add_message(store, thread, req.body())


def list_messages(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    messages = get_thread(store, match["tid"]).messages
    run_id = req.query.get("run_id")
    if run_id is not None:
        messages = [message for message in messages if message.get("run_id") == run_id]
    return list_page(messages, req.query)


def retrieve_message(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    for message in get_thread(store, match["tid"]).messages:
        if message["id"] == match["mid"]:
            return message
    raise not_found("message", match["mid"])
